/**
 * The servers this window runs: starting them from definitions, finding them, stopping them all on deactivate. The
 * core (the supervisor and all it runs) is loaded with the first server, and so are the parts of the extension that
 * each server needs from its start (`withServers`).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { settings } from './config';
import type { ResolvedDefinition, ServerDefinition } from '../core/definition';
import type { ServerModel } from '../core/model';
import type { Supervisor, SupervisorOptions } from '../core/supervisor';
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
  /** A server was created, not started yet: what follows it attaches here (its output starts with its start). */
  readonly onDidAdd = this.addEmitter.event;
  private readonly serverModules: Array<() => Promise<unknown>> = [];
  private serverModulesLoaded: Promise<unknown> | undefined;

  constructor(
    private readonly interpreters: PythonInterpreters,
    /** Where one-time warnings remember that they were shown. */
    readonly memento: vscode.Memento,
  ) {}

  /**
   * A module that a part of the extension needs as soon as a server exists (it attaches to the server in `onDidAdd`,
   * synchronously, so as to miss none of its events): loaded with the first server, before `onDidAdd` fires for it.
   * The returned function gives the module from then on (docs/architecture.md, "Lazily loaded modules").
   */
  withServers<T>(load: () => Promise<T>): () => T {
    let loaded: T | undefined;
    const loading = () => load().then((module) => (loaded = module));
    this.serverModules.push(loading);
    if (this.serverModulesLoaded) this.serverModulesLoaded = Promise.all([this.serverModulesLoaded, loading()]);
    return () => {
      if (loaded === undefined) throw new Error('Server Workers: a per-server module was used before a server was created');
      return loaded;
    };
  }

  /** Validates a definition against its folder; throws DefinitionError with every problem found. */
  async resolve(definition: ServerDefinition, folder: vscode.WorkspaceFolder | undefined): Promise<ResolvedDefinition> {
    const folderPath = folder?.uri.fsPath ?? process.cwd();
    const raw = { ...definition } as Record<string, unknown>;
    if (typeof raw.cwd === 'string' && !path.isAbsolute(raw.cwd)) raw.cwd = path.join(folderPath, raw.cwd);
    const python = await this.interpreters.resolve(folder, typeof raw.python === 'string' && raw.python.trim() !== '' ? raw.python : undefined);
    const [{ resolveDefinition }, { launchContext }] = await Promise.all([import('../core/definition'), import('../core/launchContext')]);
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
  async create(
    resolved: ResolvedDefinition,
    folder: vscode.WorkspaceFolder | undefined,
    label = resolved.name,
    options: Pick<SupervisorOptions, 'onWorkerBoot' | 'bootTimeoutMs'> = {},
  ): Promise<RunningServer> {
    const [{ Supervisor }, { agentDirectory }] = await Promise.all([import('../core/supervisor'), import('../core/launchContext'), this.loadServerModules()]);
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

  private loadServerModules(): Promise<unknown> {
    this.serverModulesLoaded ??= Promise.all(this.serverModules.map((load) => load()));
    return this.serverModulesLoaded;
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
