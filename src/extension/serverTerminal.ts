/** The task's terminal: starts the server when the task runs, shows the master's output, stops it when closed. */
import * as vscode from 'vscode';
import type { ServerDefinition } from '../core/definition';
import { DefinitionError } from '../core/definition';
import type { ServerModel } from '../core/model';
import type { Supervisor } from '../core/supervisor';
import { showServerError } from './errors';
import type { ServerRegistry } from './serverRegistry';

/** The line a background problem matcher waits for: every worker is ready. */
export const READY_LINE = 'Server Workers: all workers ready';
export const STARTING_LINE = 'Server Workers: starting';

const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

export class ServerTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private supervisor: Supervisor | undefined;
  private closed = false;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly registry: ServerRegistry,
    private readonly definition: ServerDefinition,
    private readonly folder: vscode.WorkspaceFolder | undefined,
  ) {}

  open(): void {
    void this.run();
  }

  /** The user closed the terminal or terminated the task: stop the server. */
  close(): void {
    this.closed = true;
    void this.supervisor?.stop();
  }

  private async run(): Promise<void> {
    let resolved;
    try {
      resolved = this.registry.resolve(this.definition, this.folder);
    } catch (error) {
      const message = error instanceof DefinitionError ? error.message : String(error);
      this.line(`${RED}${message}${RESET}`);
      void showServerError(`The serverworkers task is invalid. ${message}`, { openTasks: true });
      this.finish(1);
      return;
    }
    const { supervisor } = this.registry.create(resolved, this.folder);
    this.supervisor = supervisor;
    this.unsubscribe.push(
      supervisor.onOutput.on((event) => {
        if (event.slot === 0) for (const line of event.lines) this.line(line);
      }),
      supervisor.onDidChange.on((model) => this.stateChanged(model)),
    );
    this.line(`${DIM}${STARTING_LINE} ${resolved.server} ${resolved.app}, ${resolved.workers} workers, ${resolved.host}:${resolved.port} (${resolved.python})${RESET}`);
    try {
      await supervisor.start();
      const model = supervisor.model();
      this.line(`${GREEN}${READY_LINE}: ${model.workers.length} workers at ${model.url}${RESET}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!this.closed) {
        this.line(`${RED}${message}${RESET}`);
        void showServerError(`Server Workers could not start "${resolved.name}": ${message}`, { python: resolved.python, message });
      }
    }
  }

  private stateChanged(model: ServerModel): void {
    if (model.state === 'stopped') this.finish(0);
    else if (model.state === 'failed') {
      if (model.error && !this.closed) this.line(`${RED}${model.error}${RESET}`);
      this.finish(1);
    }
  }

  /** A stopped server leaves the tree; a failed one stays, with its error, until it is started again or stopped. */
  private finish(code: number): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.supervisor && code === 0) this.registry.remove(this.supervisor);
    this.closeEmitter.fire(code);
  }

  private line(text: string): void {
    this.writeEmitter.fire(`${text.replace(/\r?\n/g, '\r\n')}\r\n`);
  }
}
