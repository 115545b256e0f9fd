/** The servers this window runs: starting them from definitions, finding them, stopping them all on deactivate. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { settings } from './config';
import { resolveDefinition, type ResolvedDefinition, type ServerDefinition } from '../core/definition';
import { agentDirectory, launchContext } from '../core/launchContext';
import type { ServerModel } from '../core/model';
import { Supervisor, type SupervisorOptions } from '../core/supervisor';
import type { PythonInterpreters } from './python';

export interface RunningServer {
  supervisor: Supervisor;
  folder: vscode.WorkspaceFolder | undefined;
  /** The task's label in tasks.json (the server's name may carry the folder's name too). */
  label: string;
  /** The server's model as of its last change (the supervisor's snapshot: the same object until the next change). */
  latest: ServerModel;
  /** What was made for this server (listeners, subscriptions): disposed when it leaves the registry. */
  readonly disposables: vscode.Disposable[];
}

export class ServerRegistry implements vscode.Disposable {
  private readonly servers = new Map<string, RunningServer>();
  private readonly changeEmitter = new vscode.EventEmitter<Supervisor | undefined>();
  readonly onDidChange = this.changeEmitter.event;
  private readonly addEmitter = new vscode.EventEmitter<RunningServer>();
  readonly onDidAdd = this.addEmitter.event;

  constructor(
    private readonly interpreters: PythonInterpreters,
    /** Where one-time warnings remember that they were shown. */
    readonly memento: vscode.Memento,
  ) {}

  /** Validates a definition against its folder; throws DefinitionError with every problem found. */
  async resolve(definition: ServerDefinition, folder: vscode.WorkspaceFolder | undefined): Promise<ResolvedDefinition> {
    const folderPath = folder?.uri.fsPath ?? process.cwd();
    const raw = { ...definition } as Record<string, unknown>;
    if (typeof raw.cwd === 'string' && !path.isAbsolute(raw.cwd)) raw.cwd = path.join(folderPath, raw.cwd);
    const python = await this.interpreters.resolve(folder, typeof raw.python === 'string' && raw.python.trim() !== '' ? raw.python : undefined);
    return resolveDefinition(raw, { ...launchContext(folderPath), defaultPython: python });
  }

  /** The interpreter a server of `folder` runs with when its definition names none. */
  interpreterFor(folder: vscode.WorkspaceFolder | undefined): Promise<string> {
    return this.interpreters.resolve(folder, undefined);
  }

  /**
   * Creates the supervisor of a server (not started); the caller starts it and shows its output. `options`: the
   * debugger's boot hook (launch-mode debugging) and its longer boot timeout.
   */
  create(
    resolved: ResolvedDefinition,
    folder: vscode.WorkspaceFolder | undefined,
    label = resolved.name,
    options: Pick<SupervisorOptions, 'onWorkerBoot' | 'bootTimeoutMs'> = {},
  ): RunningServer {
    for (const old of this.all()) {
      const state = old.supervisor.serverState;
      if (old.supervisor.name === resolved.name && (state === 'failed' || state === 'stopped')) this.remove(old.supervisor);
    }
    const { agent, requestInsight, reloadOnSave, reloadTimeout } = settings(folder);
    const definition = requestInsight ? resolved : { ...resolved, insight: false };
    const supervisor = new Supervisor(definition, {
      ...options, agentDir: agent ? agentDirectory() : undefined, reloadOnSave, reloadTimeout,
    });
    const entry: RunningServer = { supervisor, folder, label, latest: supervisor.model(), disposables: [] };
    this.servers.set(supervisor.id, entry);
    entry.disposables.push(onCore(supervisor.onDidChange, (model) => {
      entry.latest = model;
      this.changeEmitter.fire(supervisor);
    }));
    this.addEmitter.fire(entry);
    this.changeEmitter.fire(undefined);
    return entry;
  }

  /** Forgets a server once it has stopped, and disposes what was made for it. */
  remove(supervisor: Supervisor): void {
    const entry = this.servers.get(supervisor.id);
    if (!entry) return;
    this.servers.delete(supervisor.id);
    for (const disposable of entry.disposables.splice(0)) disposable.dispose();
    this.changeEmitter.fire(undefined);
  }

  get(id: string): RunningServer | undefined {
    return this.servers.get(id);
  }

  findByName(name: string): RunningServer | undefined {
    return [...this.servers.values()].find((s) => s.supervisor.name === name);
  }

  all(): RunningServer[] {
    return [...this.servers.values()];
  }

  models(): ServerModel[] {
    return this.all().map((s) => s.latest);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all().map((s) => s.supervisor.stop()));
  }

  dispose(): void {
    void this.stopAll();
    for (const server of this.all()) for (const disposable of server.disposables.splice(0)) disposable.dispose();
    this.changeEmitter.dispose();
    this.addEmitter.dispose();
  }
}

/** A core event's listener as a VS Code Disposable. */
export function onCore<T>(event: { on(listener: (value: T) => void): () => void }, listener: (value: T) => void): vscode.Disposable {
  const off = event.on(listener);
  return { dispose: off };
}
