/** The task's terminal: starts the server when the task runs, shows the master's output, stops it when closed. */
import * as vscode from 'vscode';
import type { ServerDefinition } from '../core/definition';
import { tracebackLocation } from '../core/logPatterns';
import type { ServerModel } from '../core/model';
import { separateLines } from '../core/output/separateLines';
import type { Supervisor } from '../core/supervisor';
import { showServerError, untrustedWorkspaceMessage } from './errors';
import { warnIfExposed } from './notifications';
import type { ServerRegistry } from './serverRegistry';

// The problem matcher `$serverworkers` (package.json) reads these lines: a launch.json preLaunchTask waits from
// STARTING_LINE until READY_LINE or FAILED_LINE, and ERROR_PREFIX lines become problems at a file and line.
export const STARTING_LINE = 'Server Workers: starting';
export const READY_LINE = 'Server Workers: all workers ready';
export const FAILED_LINE = 'Server Workers: failed';
export const ERROR_PREFIX = 'Server Workers error:';

const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const RESET = '\x1b[0m';

export class ServerTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private supervisor: Supervisor | undefined;
  private closed = false;
  /** The start's failure was already printed (the later 'failed' state must not print it again). */
  private reported = false;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly registry: ServerRegistry,
    private readonly definition: ServerDefinition,
    private readonly folder: vscode.WorkspaceFolder | undefined,
    private readonly label: string,
    private readonly memento: vscode.Memento,
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
      resolved = await this.registry.resolve(this.definition, this.folder);
    } catch (error) {
      const { DefinitionError } = await import('../core/definition');
      const message = error instanceof DefinitionError ? error.message : String(error);
      this.reportFailure(message);
      void showServerError(`The serverworkers task is invalid. ${message}`, error, { openTasks: true });
      this.finish(1);
      return;
    }
    if (!vscode.workspace.isTrusted) {
      const message = untrustedWorkspaceMessage(resolved.name);
      this.reportFailure(message);
      void vscode.window.showErrorMessage(message);
      this.finish(1);
      return;
    }
    void warnIfExposed(this.memento, resolved);
    const { supervisor } = await this.registry.create(resolved, this.folder, this.label);
    if (this.closed) {
      this.registry.remove(supervisor); // closed while the core loaded: nothing was started
      return;
    }
    this.supervisor = supervisor;
    this.unsubscribe.push(
      supervisor.onOutput.on((event) => {
        if (event.slot === 0) for (const line of separateLines(event)) this.line(line);
      }),
      supervisor.onDidChange.on((model) => this.stateChanged(model)),
    );
    this.line(`${STARTING_LINE} ${resolved.server} ${resolved.app}, ${resolved.workers} workers, ${resolved.host}:${resolved.port} (${resolved.python})`);
    try {
      await supervisor.start();
      const model = supervisor.model();
      this.line(`${READY_LINE}: ${model.workers.length} workers at ${GREEN}${model.url}${RESET}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!this.closed) {
        this.reportFailure(message);
        void showServerError(`Server Workers could not start "${resolved.name}": ${message.split('\n')[0]}`, error);
      }
    }
  }

  /** The lines the problem matcher turns into a problem at the traceback's innermost app frame, and the end of the wait. */
  private reportFailure(message: string): void {
    if (this.reported) return;
    this.reported = true;
    this.line(`${RED}${message}${RESET}`);
    const lines = message.split('\n');
    const location = tracebackLocation(lines);
    const exception = [...lines].reverse().find((l) => /^[A-Za-z_][\w.]*(Error|Exception|Exit)\b/.test(l)) ?? lines[0];
    if (location) this.line(`${ERROR_PREFIX} ${location.file}:${location.line}: ${exception}`);
    this.line(`${FAILED_LINE}: ${lines[0]}`);
  }

  private stateChanged(model: ServerModel): void {
    if (model.state === 'stopped') this.finish(0);
    else if (model.state === 'failed') {
      if (model.error && !this.closed) this.reportFailure(model.error);
      this.finish(1);
    }
  }

  /** A stopped server leaves the tree; a failed one stays, with its error, until it is started again or stopped. */
  private finish(code: number): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.supervisor && code === 0) this.registry.remove(this.supervisor);
    // The terminal parses what was written asynchronously: closing at once can lose the last lines to the problem matcher.
    setTimeout(() => this.closeEmitter.fire(code), code === 0 ? 0 : 500);
  }

  private line(text: string): void {
    this.writeEmitter.fire(`${text.replace(/\r?\n/g, '\r\n')}\r\n`);
  }
}
