/**
 * A line typed at a program's prompt in a terminal of ours, edited as readline would: cursor moves, deletions, history
 * (up/down), Ctrl-C, Ctrl-D, tab completion (the program completes; this shows it). Pure: it gets the keys the
 * terminal sends and returns what to write and what the line asks of the program. No vscode: unit-tested in Node.
 *
 * The prompt is the text already on the terminal's current line when the program asks for a line. Keys typed while
 * the program is busy edit an unseen line; Enter then queues it (as pasted lines are), and each prompt takes the next.
 */

export type EditorAction =
  | { kind: 'submit'; line: string }
  | { kind: 'interrupt' }
  | { kind: 'eof' }
  | { kind: 'complete'; line: string };

export interface EditorOutput {
  /** What to write to the terminal (ANSI). */
  write: string;
  actions: EditorAction[];
}

const MAX_HISTORY = 500;
/** Completions listed below the line at most (readline would ask first). */
const MAX_LISTED = 200;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Each key as the terminal encodes it: an escape sequence, a run of text (typed or pasted), or one character. */
// eslint-disable-next-line no-control-regex
const KEY = /\x1b\[[0-9;]*[~A-Za-z]|\x1bO[A-Za-z]|\x1b[bf]|[^\x00-\x1f\x7f\x1b]+|[\s\S]/gu;

export class LineEditor {
  private prompt: string | undefined;
  private buffer = '';
  private cursor = 0;
  /** Where the terminal's cursor is, in columns from the start of the prompt's line. */
  private drawnAt = 0;
  private readonly history: string[] = [];
  private historyIndex: number | undefined;
  private draft = '';
  private readonly queued: string[] = [];
  private columns = 80;
  /** The line whose completions were ambiguous at the last Tab. */
  private ambiguous: string | undefined;

  /** The program waits for a line. */
  get waiting(): boolean {
    return this.prompt !== undefined;
  }

  /** The line being typed. */
  get line(): string {
    return this.buffer;
  }

  setColumns(columns: number): void {
    if (Number.isInteger(columns) && columns > 0) this.columns = columns;
  }

  /** The program waits at `prompt` (the current line's text, written already). A queued line goes at once. */
  begin(prompt: string): EditorOutput {
    this.prompt = prompt;
    this.drawnAt = width(prompt);
    const next = this.queued.shift();
    if (next !== undefined) {
      this.prompt = undefined;
      this.remember(next);
      return { write: `${next}\r\n`, actions: [{ kind: 'submit', line: next }] };
    }
    return { write: this.buffer === '' ? '' : this.redraw(), actions: [] };
  }

  /** The program no longer waits (it went away, or took a line some other way). */
  end(): void {
    this.prompt = undefined;
  }

  keys(data: string): EditorOutput {
    let write = '';
    const actions: EditorAction[] = [];
    for (const [key] of data.matchAll(KEY)) {
      const out = this.key(key);
      write += out.write;
      actions.push(...out.actions);
    }
    return { write, actions };
  }

  /** The program's completions for `line` (the line up to the cursor when Tab was pressed), whose last word begins at `begin`. */
  completed(line: string, begin: number, matches: readonly string[]): EditorOutput {
    if (!this.waiting || this.buffer.slice(0, this.cursor) !== line) return { write: '', actions: [] };
    const word = line.slice(begin);
    const candidates = [...new Set(matches)].filter((m) => m.startsWith(word)).sort();
    if (candidates.length === 0) return { write: '\x07', actions: [] };
    if (candidates.length === 1) {
      const [only] = candidates;
      return this.replaceWord(begin, /[./:(]$/.test(only) ? only : `${only} `);
    }
    const common = commonPrefix(candidates);
    if (common.length > word.length) return this.replaceWord(begin, common);
    if (this.ambiguous !== line) {
      this.ambiguous = line; // as readline: a bell, and the second Tab lists them
      return { write: '\x07', actions: [] };
    }
    return { write: this.listing(candidates), actions: [] };
  }

  private key(key: string): EditorOutput {
    const none: EditorOutput = { write: '', actions: [] };
    switch (key) {
      case '\r':
      case '\n':
        return this.enter();
      case '\x03':
        return this.interrupt();
      case '\x04':
        if (this.waiting && this.buffer === '') {
          this.prompt = undefined;
          return { write: '', actions: [{ kind: 'eof' }] };
        }
        return this.edit(this.buffer.slice(0, this.cursor) + this.buffer.slice(this.cursor + 1), this.cursor);
      case '\t':
        return this.waiting ? { write: '', actions: [{ kind: 'complete', line: this.buffer.slice(0, this.cursor) }] } : none;
      case '\x7f':
      case '\b':
        return this.cursor === 0 ? none : this.edit(this.buffer.slice(0, this.cursor - 1) + this.buffer.slice(this.cursor), this.cursor - 1);
      case '\x1b[3~':
        return this.edit(this.buffer.slice(0, this.cursor) + this.buffer.slice(this.cursor + 1), this.cursor);
      case '\x1b[D': case '\x1bOD': case '\x02':
        return this.edit(this.buffer, Math.max(0, this.cursor - 1));
      case '\x1b[C': case '\x1bOC': case '\x06':
        return this.edit(this.buffer, Math.min(this.buffer.length, this.cursor + 1));
      case '\x1b[H': case '\x1bOH': case '\x1b[1~': case '\x01':
        return this.edit(this.buffer, 0);
      case '\x1b[F': case '\x1bOF': case '\x1b[4~': case '\x05':
        return this.edit(this.buffer, this.buffer.length);
      case '\x1b[1;5D': case '\x1bb':
        return this.edit(this.buffer, wordStart(this.buffer, this.cursor));
      case '\x1b[1;5C': case '\x1bf':
        return this.edit(this.buffer, wordEnd(this.buffer, this.cursor));
      case '\x15':
        return this.edit(this.buffer.slice(this.cursor), 0);
      case '\x0b':
        return this.edit(this.buffer.slice(0, this.cursor), this.cursor);
      case '\x17': {
        const start = wordStart(this.buffer, this.cursor);
        return this.edit(this.buffer.slice(0, start) + this.buffer.slice(this.cursor), start);
      }
      case '\x1b[A': case '\x1bOA': case '\x10':
        return this.recall(-1);
      case '\x1b[B': case '\x1bOB': case '\x0e':
        return this.recall(1);
      case '\x0c':
        this.drawnAt = 0;
        return { write: `\x1b[2J\x1b[H${this.waiting ? this.redraw() : ''}`, actions: [] };
      default:
        if (key < ' ' || key.startsWith('\x1b')) return none;
        return this.edit(this.buffer.slice(0, this.cursor) + key + this.buffer.slice(this.cursor), this.cursor + key.length);
    }
  }

  private enter(): EditorOutput {
    const line = this.buffer;
    this.buffer = '';
    this.cursor = 0;
    this.historyIndex = undefined;
    if (!this.waiting) {
      this.queued.push(line);
      return { write: '', actions: [] };
    }
    const end = width(this.prompt!) + width(line);
    // A line that fills its last row exactly left the cursor at the start of the next one already (see redraw).
    const write = this.moveTo(end) + (end > 0 && end % this.columns === 0 ? '' : '\r\n');
    this.prompt = undefined;
    this.remember(line);
    return { write, actions: [{ kind: 'submit', line }] };
  }

  private interrupt(): EditorOutput {
    const wasWaiting = this.waiting;
    const write = wasWaiting ? `${this.moveTo(width(this.prompt!) + width(this.buffer))}^C\r\n` : '^C\r\n';
    this.buffer = '';
    this.cursor = 0;
    this.queued.length = 0;
    this.historyIndex = undefined;
    this.prompt = undefined; // the program prompts again
    return { write, actions: [{ kind: 'interrupt' }] };
  }

  private recall(step: -1 | 1): EditorOutput {
    if (this.history.length === 0) return { write: '', actions: [] };
    if (this.historyIndex === undefined) {
      if (step === 1) return { write: '', actions: [] };
      this.draft = this.buffer;
      this.historyIndex = this.history.length;
    }
    const index = this.historyIndex + step;
    if (index < 0) return { write: '', actions: [] };
    if (index >= this.history.length) {
      this.historyIndex = undefined;
      return this.edit(this.draft, this.draft.length, true);
    }
    this.historyIndex = index;
    return this.edit(this.history[index], this.history[index].length, true);
  }

  private remember(line: string): void {
    if (line.trim() === '' || this.history[this.history.length - 1] === line) return;
    this.history.push(line);
    if (this.history.length > MAX_HISTORY) this.history.shift();
  }

  private edit(buffer: string, cursor: number, fromHistory = false): EditorOutput {
    if (!fromHistory) this.historyIndex = undefined;
    this.ambiguous = undefined;
    this.buffer = buffer;
    this.cursor = cursor;
    return { write: this.waiting ? this.redraw() : '', actions: [] };
  }

  private replaceWord(begin: number, replacement: string): EditorOutput {
    return this.edit(this.buffer.slice(0, begin) + replacement + this.buffer.slice(this.cursor), begin + replacement.length);
  }

  /** The matches in columns below the line, then the prompt and the line again. */
  private listing(matches: string[]): string {
    const shown = matches.slice(0, MAX_LISTED);
    const cell = Math.max(...shown.map(width)) + 2;
    const perRow = Math.max(1, Math.floor(this.columns / cell));
    const rows: string[] = [];
    for (let i = 0; i < shown.length; i += perRow) rows.push(shown.slice(i, i + perRow).map((m) => m.padEnd(cell)).join('').trimEnd());
    if (matches.length > shown.length) rows.push(`... (${matches.length - shown.length} more)`);
    const out = `${this.moveTo(width(this.prompt!) + width(this.buffer))}\r\n${rows.join('\r\n')}\r\n`;
    this.drawnAt = 0;
    return out + this.redraw();
  }

  /** Rewrites the prompt and the line from the prompt's first row, then puts the cursor where it belongs. */
  private redraw(): string {
    const prompt = this.prompt ?? '';
    const up = Math.floor(this.drawnAt / this.columns);
    let out = `${up > 0 ? `\x1b[${up}A` : ''}\r\x1b[J${prompt}${this.buffer}`;
    const end = width(prompt) + width(this.buffer);
    if (end > 0 && end % this.columns === 0) out += '\r\n'; // out of the terminal's pending wrap, onto the next row
    this.drawnAt = end;
    return out + this.moveTo(width(prompt) + width(this.buffer.slice(0, this.cursor)));
  }

  /** Moves the terminal's cursor to `column` (from the start of the prompt's line), across rows. */
  private moveTo(column: number): string {
    const rows = Math.floor(column / this.columns) - Math.floor(this.drawnAt / this.columns);
    let out = rows < 0 ? `\x1b[${-rows}A` : rows > 0 ? `\x1b[${rows}B` : '';
    const col = column % this.columns;
    out += `\r${col > 0 ? `\x1b[${col}C` : ''}`;
    this.drawnAt = column;
    return out;
  }
}

/** Columns a text takes (one per code point; escape sequences take none). */
function width(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

function wordStart(text: string, from: number): number {
  let i = from;
  while (i > 0 && !/\w/.test(text[i - 1])) i--;
  while (i > 0 && /\w/.test(text[i - 1])) i--;
  return i;
}

function wordEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && !/\w/.test(text[i])) i++;
  while (i < text.length && /\w/.test(text[i])) i++;
  return i;
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0];
  for (const word of words) while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
