import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { type EditorAction, type EditorOutput, LineEditor } from '../../src/extension/pdb/lineEditor';

/** Just enough of a terminal to read what the editor's output leaves on screen: rows, the cursor, CR LF, CUU/CUD/CUF, ED, wrapping. */
class Screen {
  rows: string[][] = [[]];
  row = 0;
  col = 0;
  private pendingWrap = false;

  constructor(readonly columns: number) {}

  write(text: string): void {
    // eslint-disable-next-line no-control-regex
    for (const [token] of text.matchAll(/\x1b\[(\d*)([ABCJ])|\x1b\[2J|\x1b\[H|[\s\S]/gu)) this.token(token);
  }

  text(): string[] {
    return this.rows.map((r) => r.join('').trimEnd());
  }

  private token(token: string): void {
    // eslint-disable-next-line no-control-regex
    const csi = /^\x1b\[(\d*)([ABCJ])$/.exec(token);
    if (csi) {
      const n = Number(csi[1] || '1');
      this.pendingWrap = false;
      if (csi[2] === 'A') this.row = Math.max(0, this.row - n);
      if (csi[2] === 'B') this.row += n;
      if (csi[2] === 'C') this.col = Math.min(this.columns - 1, this.col + n);
      if (csi[2] === 'J') {
        this.line().length = this.col;
        this.rows.length = this.row + 1;
      }
      return;
    }
    if (token === '\x1b[2J') this.rows = [[]];
    else if (token === '\x1b[H') [this.row, this.col] = [0, 0];
    else if (token === '\r') [this.col, this.pendingWrap] = [0, false];
    else if (token === '\n') {
      [this.row, this.pendingWrap] = [this.row + 1, false];
      this.line();
    }
    else if (token === '\x07') return;
    else {
      if (this.pendingWrap) [this.row, this.col, this.pendingWrap] = [this.row + 1, 0, false];
      const line = this.line();
      while (line.length < this.col) line.push(' ');
      line[this.col] = token;
      if (this.col === this.columns - 1) this.pendingWrap = true;
      else this.col++;
    }
  }

  private line(): string[] {
    while (this.rows.length <= this.row) this.rows.push([]);
    return this.rows[this.row];
  }
}

/** An editor on a screen where pdb wrote "(Pdb) ". */
function atPrompt(columns = 80): { editor: LineEditor; screen: Screen; type: (keys: string) => EditorAction[] } {
  const editor = new LineEditor();
  editor.setColumns(columns);
  const screen = new Screen(columns);
  screen.write('(Pdb) ');
  const apply = (out: EditorOutput) => {
    screen.write(out.write);
    return out.actions;
  };
  apply(editor.begin('(Pdb) '));
  return { editor, screen, type: (keys) => apply(editor.keys(keys)) };
}

describe('LineEditor', () => {
  it('inserts, moves and deletes as readline does; Enter submits the line', () => {
    const { screen, type } = atPrompt();
    assert.deepStrictEqual(type('p x'), []);
    type('\x1b[D\x1b[D\x7f'); // left, left, backspace: "p" goes
    type('pp');
    assert.deepStrictEqual(screen.text(), ['(Pdb) pp x']);
    assert.strictEqual(screen.col, '(Pdb) pp'.length, 'the cursor after what was typed');
    type('\x01\x1b[3~\x05!'); // Home, Delete, End, "!"
    assert.deepStrictEqual(screen.text(), ['(Pdb) p x!']);
    assert.deepStrictEqual(type('\r'), [{ kind: 'submit', line: 'p x!' }]);
    assert.deepStrictEqual([screen.row, screen.col], [1, 0], 'on a new line');
  });

  it('word and kill keys: Ctrl-W, Ctrl-U, Ctrl-K, Ctrl-Left', () => {
    const { editor, screen, type } = atPrompt();
    type('p foo.bar baz\x17'); // Ctrl-W: "baz" goes
    assert.deepStrictEqual(screen.text(), ['(Pdb) p foo.bar']);
    type('\x1b[1;5D\x0b'); // word left, kill to end
    assert.deepStrictEqual(screen.text(), ['(Pdb) p foo.']);
    type('\x15'); // kill to start
    assert.deepStrictEqual(screen.text(), ['(Pdb)']);
    assert.ok(editor.waiting);
  });

  it('history: up and down, the unfinished line kept; a repeated or blank line is not remembered twice', () => {
    const { editor, screen, type } = atPrompt();
    for (const line of ['p a', 'p b', 'p b', '']) {
      type(`${line}\r`);
      screen.write('(Pdb) ');
      editor.begin('(Pdb) ');
    }
    type('p c');
    type('\x1b[A');
    assert.strictEqual(screen.text().at(-1), '(Pdb) p b');
    type('\x1b[A\x1b[A'); // the oldest stays
    assert.strictEqual(screen.text().at(-1), '(Pdb) p a');
    type('\x1b[B\x1b[B');
    assert.strictEqual(screen.text().at(-1), '(Pdb) p c', 'back to the unfinished line');
    assert.deepStrictEqual(type('\x1bOA\r'), [{ kind: 'submit', line: 'p b' }], 'application-mode arrows too');
  });

  it('Ctrl-C interrupts and drops the line; Ctrl-D on an empty line is EOF, else deletes', () => {
    const { editor, screen, type } = atPrompt();
    assert.deepStrictEqual(type('p long\x03'), [{ kind: 'interrupt' }]);
    assert.deepStrictEqual(screen.text(), ['(Pdb) p long^C', '']);
    assert.ok(!editor.waiting, 'pdb prompts again');
    screen.write('--KeyboardInterrupt--\r\n(Pdb) ');
    editor.begin('(Pdb) ');
    type('ab\x01\x04');
    assert.deepStrictEqual(screen.text().at(-1), '(Pdb) b', 'Ctrl-D deletes under the cursor');
    type('\x0b\x04'); // empty now
    assert.ok(!editor.waiting);
    assert.deepStrictEqual(editor.keys('x').actions, [], 'typed while pdb is busy: not shown, not sent');
  });

  it('lines pasted at once, or typed while pdb is busy, go one per prompt, shown as if typed', () => {
    const { editor, screen, type } = atPrompt();
    assert.deepStrictEqual(type('p 1\rp 2\rp'), [{ kind: 'submit', line: 'p 1' }]);
    type(' 3\r');
    screen.write("1\r\n(Pdb) ");
    const second = editor.begin('(Pdb) ');
    screen.write(second.write);
    assert.deepStrictEqual(second.actions, [{ kind: 'submit', line: 'p 2' }]);
    screen.write("2\r\n(Pdb) ");
    assert.deepStrictEqual(editor.begin('(Pdb) ').actions, [{ kind: 'submit', line: 'p 3' }]);
    assert.deepStrictEqual(screen.text().slice(0, 3), ['(Pdb) p 1', '1', '(Pdb) p 2']);
  });

  it('a line longer than the terminal wraps, and edits and moves go across its rows', () => {
    const { screen, type } = atPrompt(10);
    type('p abcdefghijkl'); // 6 + 14 = 20 columns: two full rows
    assert.deepStrictEqual(screen.text(), ['(Pdb) p ab', 'cdefghijkl', '']);
    type('\x01X');
    assert.deepStrictEqual(screen.text(), ['(Pdb) Xp a', 'bcdefghijk', 'l']);
    assert.deepStrictEqual([screen.row, screen.col], [0, 7]);
    type('\x05\x7f');
    assert.deepStrictEqual(screen.text().filter(Boolean), ['(Pdb) Xp a', 'bcdefghijk']);
    type('\r');
    assert.deepStrictEqual([screen.row, screen.col], [2, 0], 'Enter leaves the whole line above');
  });

  it('tab asks for completions of the line up to the cursor; one match completes, several extend or are listed', () => {
    const { editor, screen, type } = atPrompt();
    assert.deepStrictEqual(type('p va\t'), [{ kind: 'complete', line: 'p va' }]);
    screen.write(editor.completed('p va', 2, ['value']).write);
    assert.deepStrictEqual(screen.text(), ['(Pdb) p value'], 'one match, and a space');
    type('\x15con\t');
    screen.write(editor.completed('con', 0, ['condition', 'cont', 'continue']).write);
    assert.deepStrictEqual(screen.text(), ['(Pdb) con'], 'nothing common to add: a bell');
    screen.write(editor.completed('con', 0, ['condition', 'cont', 'continue']).write);
    assert.deepStrictEqual(screen.text().slice(-2), ['condition  cont       continue', '(Pdb) con'], 'the second Tab lists them, the line again below');
    screen.write(editor.completed('con', 0, ['continue', 'cont']).write);
    assert.strictEqual(screen.text().at(-1), '(Pdb) cont', 'extended to the common prefix');
    assert.strictEqual(editor.completed('stale', 0, ['stalest']).write, '', 'an answer for another line is dropped');
  });
});
