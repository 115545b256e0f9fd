/**
 * A worker's pdb as a terminal of its own (a Pseudoterminal): pdb's output, its prompt, the line typed at it (the
 * LineEditor), Ctrl-C, Ctrl-D and Tab. One terminal per worker, kept between its sessions: the next `breakpoint()` in
 * that worker comes back to it. Closing it lets the worker go on.
 */
import * as vscode from 'vscode';
import type { PdbEnd, PdbSession } from '../../core/supervisor';
import { type EditorAction, type EditorOutput, LineEditor } from './lineEditor';

const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
/** What a terminal keeps of its transcript, for the tests' eyes (the newest part). */
const TRANSCRIPT_CHARS = 64 * 1024;

export class PdbTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  readonly terminal: vscode.Terminal;
  private readonly editor = new LineEditor();
  private current: PdbSession | undefined;
  private unsubscribe: Array<() => void> = [];
  /** Written before VS Code opened the terminal: it would drop it. */
  private beforeOpen: string[] | undefined = [];
  /** The text on the terminal's current line so far: the prompt, when pdb asks for a line. */
  private currentLine = '';
  private shown = '';
  private disposed = false;

  /** `onUserClose`: the person closed it (not us). */
  constructor(readonly name: string, readonly pid: number, private readonly onUserClose: (terminal: PdbTerminal) => void) {
    this.terminal = vscode.window.createTerminal({ name, pty: this, iconPath: new vscode.ThemeIcon('debug-console'), isTransient: true });
  }

  /** The session in progress, if any. */
  get session(): PdbSession | undefined {
    return this.current;
  }

  /** What the terminal shows, as lines: pdb's output, each line as it was submitted, our notes. */
  get transcript(): string {
    return this.shown;
  }

  get waiting(): boolean {
    return this.editor.waiting;
  }

  /** The line being typed at the prompt. */
  get typed(): string {
    return this.editor.line;
  }

  /** A session of this worker begins here. */
  attach(session: PdbSession): void {
    this.detachListeners();
    this.current = session;
    this.editor.end();
    this.unsubscribe = [
      session.onOutput.on((text) => this.output(text)),
      session.onPrompt.on(() => this.apply(this.editor.begin(this.currentLine))),
      session.onRunning.on(() => {
        this.editor.end();
        this.note(vscode.l10n.t('continued: it stops again at a breakpoint'));
      }),
      session.onEnd.on((end) => this.sessionEnded(end)),
    ];
  }

  /** Closes the terminal (its worker exited, the server stopped). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.detachListeners();
    this.closeEmitter.fire();
    this.terminal.dispose();
  }

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    if (dimensions) this.editor.setColumns(dimensions.columns);
    const pending = this.beforeOpen ?? [];
    this.beforeOpen = undefined;
    if (pending.length > 0) this.writeEmitter.fire(pending.join(''));
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.editor.setColumns(dimensions.columns);
  }

  /** The person closed the terminal: the worker continues (a session in progress is let go). */
  close(): void {
    if (this.disposed) return;
    this.disposed = true;
    const session = this.current;
    this.detachListeners();
    if (session && !session.end) session.detach('its pdb terminal was closed');
    this.onUserClose(this);
  }

  handleInput(data: string): void {
    this.apply(this.editor.keys(data));
  }

  private apply(out: EditorOutput): void {
    if (out.write) this.write(out.write);
    for (const action of out.actions) this.act(action);
  }

  private act(action: EditorAction): void {
    const session = this.current;
    if (!session || session.end) return;
    switch (action.kind) {
      case 'submit':
        this.currentLine = '';
        this.remember(`${action.line}\n`);
        if (!session.input(`${action.line}\n`)) this.note(vscode.l10n.t('that line is over the 1 MiB pdb takes at a time: it was not sent'));
        return;
      case 'interrupt':
        this.remember('^C\n');
        session.interrupt();
        return;
      case 'eof':
        session.eof();
        return;
      case 'complete':
        void session.complete(action.line).then(({ matches, begin }) => {
          if (this.current === session) this.apply(this.editor.completed(action.line, begin, matches));
        });
        return;
    }
  }

  private output(text: string): void {
    const newline = text.lastIndexOf('\n');
    this.currentLine = newline === -1 ? this.currentLine + text : text.slice(newline + 1);
    this.remember(text);
    this.write(text.replace(/\r?\n/g, '\r\n'));
  }

  private sessionEnded(end: PdbEnd): void {
    this.editor.end();
    this.detachListeners();
    if (end.reason !== 'gone') this.note(vscode.l10n.t('left pdb ({0}); the next breakpoint() in this worker stops here again', end.text));
  }

  /** A line of ours (not pdb's), dimmed, on a line of its own. */
  private note(text: string): void {
    const start = this.currentLine === '' ? '' : '\r\n';
    this.currentLine = '';
    this.remember(`${start ? '\n' : ''}── ${text}\n`);
    this.write(`${start}${DIM}── ${text}${RESET}\r\n`);
  }

  private remember(text: string): void {
    this.shown = (this.shown + text).slice(-TRANSCRIPT_CHARS);
  }

  private write(text: string): void {
    if (this.beforeOpen) this.beforeOpen.push(text);
    else this.writeEmitter.fire(text);
  }

  private detachListeners(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
