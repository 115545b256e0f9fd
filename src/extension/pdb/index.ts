/**
 * pdb in a worker, in VS Code: each worker that enters pdb (`breakpoint()`) gets a terminal of its own,
 * `pdb · <server> worker N`, focused when the worker stops (with a notification when the window is not focused);
 * closing it lets the worker go on (and says so); a worker that dies closes it, saying why.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PdbSession, Supervisor } from '../../core/supervisor';
import { onCore, type RunningServer, type ServerRegistry } from '../serverRegistry';
import type { PdbTerminal } from './pdbTerminal';

/** What the e2e tests see of a pdb terminal. */
export interface PdbTerminalView {
  name: string;
  pid: number;
  /** What it shows, as lines: pdb's output, each line as submitted, its notes. */
  text: string;
  /** pdb waits for a line. */
  waiting: boolean;
  /** The line being typed at the prompt. */
  typed: string;
}

export class PdbTerminals implements vscode.Disposable {
  private readonly terminals = new Set<PdbTerminal>();
  private readonly subscription: vscode.Disposable;
  /** The terminal and its line editor, loaded with the first server (a session's first output must find its terminal). */
  private readonly terminalModule: () => typeof import('./pdbTerminal');

  constructor(registry: ServerRegistry) {
    this.terminalModule = registry.withServers(() => import('./pdbTerminal'));
    this.subscription = registry.onDidAdd((server) => this.follow(server));
  }

  views(): PdbTerminalView[] {
    return [...this.terminals].map((t) => ({ name: t.name, pid: t.pid, text: t.transcript, waiting: t.waiting, typed: t.typed }));
  }

  dispose(): void {
    this.subscription.dispose();
    for (const terminal of [...this.terminals]) terminal.dispose();
    this.terminals.clear();
  }

  private follow(server: RunningServer): void {
    const { supervisor } = server;
    const mine = new Set<PdbTerminal>();
    const closeAll = () => {
      for (const terminal of mine) this.close(terminal, mine);
    };
    server.disposables.push(
      onCore(supervisor.onPdb, (session) => this.sessionOpened(supervisor, session, mine)),
      // A worker gone: nothing more comes to its terminal (a session in progress closed it already, saying why).
      onCore(supervisor.onWorker, ({ type, worker }) => {
        if (type !== 'exit') return;
        for (const terminal of mine) if (terminal.pid === worker.pid) this.close(terminal, mine);
      }),
      onCore(supervisor.onDidChange, (model) => {
        if (model.state === 'stopped' || model.state === 'failed') closeAll();
      }),
      { dispose: closeAll },
    );
  }

  private sessionOpened(supervisor: Supervisor, session: PdbSession, mine: Set<PdbTerminal>): void {
    const label = workerLabel(supervisor.name, session.slot, supervisor.model().master?.pid === session.pid && session.slot === 0);
    let terminal = [...mine].find((t) => t.pid === session.pid && (!t.session || t.session.end));
    if (!terminal) {
      const base = `pdb · ${label}`;
      const others = [...mine].filter((t) => t.pid === session.pid).length;
      const { PdbTerminal } = this.terminalModule();
      terminal = new PdbTerminal(others === 0 ? base : `${base} (${others + 1})`, session.pid, (closed) => this.closedByUser(closed, label, mine));
      mine.add(terminal);
      this.terminals.add(terminal);
    }
    const shown = terminal;
    shown.attach(session);
    session.onStop.on(({ stop, entered }) => {
      if (!entered) return;
      shown.terminal.show(false);
      if (!vscode.window.state.focused) void this.notify(shown, label, stop.file, stop.line);
    });
    session.onEnd.on((end) => {
      if (end.reason !== 'gone' || !mine.has(shown)) return;
      this.close(shown, mine);
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} closed: the worker ended ({1}).', shown.name, end.text));
    });
  }

  private async notify(terminal: PdbTerminal, label: string, file: string, line: number): Promise<void> {
    const show = vscode.l10n.t('Show Terminal');
    const choice = await vscode.window.showInformationMessage(vscode.l10n.t('{0} is in pdb at {1}:{2}.', label, path.basename(file), line), show);
    if (choice === show && this.terminals.has(terminal)) terminal.terminal.show(false);
  }

  private closedByUser(terminal: PdbTerminal, label: string, mine: Set<PdbTerminal>): void {
    const hadSession = terminal.session !== undefined && terminal.session.end === undefined;
    mine.delete(terminal);
    this.terminals.delete(terminal);
    if (hadSession) void vscode.window.showInformationMessage(vscode.l10n.t('{0} continues: its pdb terminal was closed.', label));
  }

  private close(terminal: PdbTerminal, mine: Set<PdbTerminal>): void {
    mine.delete(terminal);
    this.terminals.delete(terminal);
    terminal.dispose();
  }
}

function workerLabel(serverName: string, slot: number, master: boolean): string {
  return master ? vscode.l10n.t('{0} master', serverName) : vscode.l10n.t('{0} worker {1}', serverName, slot);
}
