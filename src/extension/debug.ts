/**
 * Debugging one worker: the `serverworkers` debug type.
 *
 * - `"request": "attach"`: the worker's agent starts debugpy listening on a Unix socket in the server's private 0700
 *   runtime folder, for this user only; VS Code connects to it directly (DebugAdapterNamedPipeServer). No TCP port,
 *   no ptrace, no gdb.
 * - `"request": "launch"`: starts the server with the chosen workers held at boot until their debugger is attached
 *   (docs/agent-protocol.md, "Debugging"); the first one is this session, the others child sessions. Ending the session
 *   stops the server unless `"stopServerOnEnd": false`.
 * - When a worker's session ends, the worker is recycled (SIGTERM; the server replaces it): debugpy's tracing leaves
 *   it slower. `"recycleWorker": false` keeps it.
 *
 * Both modes reach VS Code as an attach to debugpy: the launch is resolved here (the server started, the worker
 * listening), and its configuration goes on with `"request": "attach"` and the socket's path in `__serverWorkers`.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ServerDefinition } from '../core/definition';
import type { WorkerModel } from '../core/model';
import type { Supervisor } from '../core/supervisor';
import { DebugpyMissingError, findDebugpy, showDebugpyMissing, type DebugpySource } from './debugpy';
import { showServerError } from './errors';
import type { RunningServer, ServerRegistry } from './serverRegistry';
import { TASK_TYPE } from './taskProvider';
import type { WorkersNode } from './workersTree';

export const DEBUG_TYPE = 'serverworkers';
/** Seconds a worker held at boot waits for its debugger before it boots without one. */
const CLIENT_WAIT_SECONDS = 120;
/** How long the agent may take to start debugpy. */
const DEBUG_COMMAND_TIMEOUT_MS = 90000;
/** A launched server may sit at a startup breakpoint for long: its start() must not time out meanwhile. */
const LAUNCH_BOOT_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** What a resolved configuration carries to the adapter factory and the session's end. */
interface SessionTarget {
  serverId: string;
  slot: number;
  pid: number;
  /** The worker's debugger socket (debugpy's own DAP server, in the server's private runtime folder). */
  socketPath: string;
  recycle: boolean;
  /** The launch this session belongs to. */
  launchId?: string;
  /** The launch's own session (not a child): its end ends the launch. */
  main?: boolean;
}

interface ServerWorkersDebugConfiguration extends vscode.DebugConfiguration {
  debugWorkers?: unknown;
  justMyCode?: boolean;
  recycleWorker?: boolean;
  __serverWorkers?: SessionTarget;
}

/** Keys of a launch configuration that are not the server's definition. */
const DEBUG_KEYS = new Set(['type', 'request', 'name', 'task', 'serverName', 'debugWorkers', 'stopServerOnEnd', 'recycleWorker', 'justMyCode', '__serverWorkers']);

export function registerDebugging(registry: ServerRegistry, context: vscode.ExtensionContext): vscode.Disposable[] {
  const debugging = new WorkerDebugging(registry, taskProperties(context));
  return [
    debugging,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, debugging),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new DynamicConfigurations(registry), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, debugging),
    vscode.debug.onDidStartDebugSession((session) => debugging.started(session)),
    vscode.debug.onDidTerminateDebugSession((session) => debugging.terminated(session)),
    // As a launch.json variable, VS Code passes the debug configuration: its serverName narrows the choice.
    vscode.commands.registerCommand('serverWorkers.pickWorker', (config?: { serverName?: unknown }) => pickWorker(registry, config?.serverName)),
    vscode.commands.registerCommand('serverWorkers.debugWorker', (node?: WorkersNode) => debugWorker(registry, node)),
  ];
}

/** The properties a serverworkers task takes (package.json), which a launch configuration may give inline. */
function taskProperties(context: vscode.ExtensionContext): Set<string> {
  const manifest = context.extension.packageJSON as { contributes?: { taskDefinitions?: Array<{ type: string; properties?: Record<string, unknown> }> } };
  const definitions = manifest.contributes?.taskDefinitions ?? [];
  return new Set(Object.keys(definitions.find((d) => d.type === TASK_TYPE)?.properties ?? {}));
}

class WorkerDebugging implements vscode.DebugConfigurationProvider, vscode.DebugAdapterDescriptorFactory, vscode.Disposable {
  private readonly launches = new Map<string, LaunchRun>();
  private readonly sessions = new Map<string, SessionTarget>();

  constructor(private readonly registry: ServerRegistry, private readonly definitionKeys: Set<string>) {}

  /** F5 without launch.json: launch the first serverworkers task, or attach when a server runs already. */
  async resolveDebugConfiguration(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    if (config.type || config.request || config.name) return config;
    if (this.registry.all().some((s) => s.supervisor.serverState === 'running')) {
      return { type: DEBUG_TYPE, request: 'attach', name: vscode.l10n.t('Attach to a worker'), pid: '${command:serverWorkers.pickWorker}' };
    }
    const task = (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((t) => !folder || t.scope === folder || typeof t.scope !== 'object');
    if (!task) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Add a serverworkers task (Server Workers: Create a Task...) or a launch configuration of type "serverworkers" to debug a worker.'));
      return undefined;
    }
    return { type: DEBUG_TYPE, request: 'launch', name: vscode.l10n.t('Debug a worker of {0}', task.name), task: task.name, debugWorkers: 1 };
  }

  async resolveDebugConfigurationWithSubstitutedVariables(
    folder: vscode.WorkspaceFolder | undefined,
    config: ServerWorkersDebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    if (config.__serverWorkers) return config; // a child session of a launch, already resolved
    try {
      return config.request === 'launch' ? await this.launch(folder, config) : await this.attach(config);
    } catch (error) {
      void reportError(error); // not awaited: the message waits for the user, the launch must not
      return undefined; // undefined: the session does not start, and launch.json is not opened
    }
  }

  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const target = (session.configuration as ServerWorkersDebugConfiguration).__serverWorkers;
    if (!target) throw new Error(vscode.l10n.t('This debug session has no worker to connect to.'));
    return new vscode.DebugAdapterNamedPipeServer(target.socketPath);
  }

  started(session: vscode.DebugSession): void {
    const target = (session.configuration as ServerWorkersDebugConfiguration).__serverWorkers;
    if (session.type !== DEBUG_TYPE || !target) return;
    this.sessions.set(session.id, target);
    if (target.main && target.launchId) this.launches.get(target.launchId)?.mainStarted(session);
  }

  terminated(session: vscode.DebugSession): void {
    const target = this.sessions.get(session.id);
    if (!target) return;
    this.sessions.delete(session.id);
    const server = this.registry.get(target.serverId);
    server?.supervisor.setDebugging(target.pid, false);
    const run = target.launchId ? this.launches.get(target.launchId) : undefined;
    if (run && target.main) {
      this.launches.delete(run.id);
      void run.end().catch(reportError);
      return;
    }
    if (server && target.recycle) {
      run?.skipNextBoot.add(target.slot);
      void recycle(server, target.slot, target.pid);
    }
  }

  // ---- attach ----------------------------------------------------------------------------------------------------

  private async attach(config: ServerWorkersDebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    const found = await findWorker(this.registry, config);
    if (!found) return undefined;
    const { server, worker } = found;
    if ([...this.sessions.values()].some((t) => t.pid === worker.pid)) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Worker {0} (pid {1}) is being debugged already.', worker.slot, worker.pid));
      return undefined;
    }
    const source = await findDebugpy(server.supervisor.currentDefinition.python);
    const socketPath = await startDebugpy(server.supervisor, worker.slot, source);
    server.supervisor.setDebugging(worker.pid, true);
    const target: SessionTarget = { serverId: server.supervisor.id, slot: worker.slot, pid: worker.pid, socketPath, recycle: config.recycleWorker !== false };
    return { ...config, request: 'attach', subProcess: false, __serverWorkers: target };
  }

  // ---- launch ----------------------------------------------------------------------------------------------------

  private async launch(folder: vscode.WorkspaceFolder | undefined, config: ServerWorkersDebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    if (!vscode.workspace.getConfiguration('serverWorkers', folder).get<boolean>('agent', true)) {
      throw new Error(vscode.l10n.t('Debugging a worker needs the in-worker agent: turn the setting serverWorkers.agent back on.'));
    }
    const { definition, label } = await this.launchDefinition(folder, config);
    const resolved = await this.registry.resolve(definition, folder);
    const running = this.registry.findByName(resolved.name);
    if (running && running.supervisor.serverState !== 'stopped' && running.supervisor.serverState !== 'failed') {
      throw new Error(vscode.l10n.t('"{0}" is running already. Stop it first, or attach to one of its workers ("request": "attach").', resolved.name));
    }
    const debugWorkers: unknown = config.debugWorkers ?? 1;
    if (debugWorkers !== 'all' && !(typeof debugWorkers === 'number' && Number.isInteger(debugWorkers) && debugWorkers >= 1 && debugWorkers <= resolved.workers)) {
      throw new Error(vscode.l10n.t('"debugWorkers" must be "all" or a whole number from 1 to the worker count ({0}); got {1}.', resolved.workers, JSON.stringify(debugWorkers)));
    }
    const source = await findDebugpy(resolved.python);
    const run = new LaunchRun(this.registry, folder, source, debugWorkers, config);
    const { supervisor } = this.registry.create(resolved, folder, label, { onWorkerBoot: (worker) => run.boot(worker), bootTimeoutMs: LAUNCH_BOOT_TIMEOUT_MS });
    run.supervisor = supervisor;
    this.launches.set(run.id, run);
    let first: Listening;
    try {
      first = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Starting {0} with a worker waiting for the debugger', resolved.name), cancellable: true },
        (_progress, token) => run.firstWorker(token),
      );
    } catch (error) {
      this.launches.delete(run.id);
      await run.abandon();
      if (!(error instanceof vscode.CancellationError)) void reportError(error, resolved.python);
      return undefined;
    }
    const target: SessionTarget = { serverId: supervisor.id, ...first, recycle: config.recycleWorker !== false, launchId: run.id, main: true };
    return { ...config, request: 'attach', subProcess: false, __serverWorkers: target };
  }

  /** A launch's server: the task named by `task`, else the configuration's own properties (those of a task). */
  private async launchDefinition(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<{ definition: ServerDefinition; label?: string }> {
    if (typeof config.task === 'string' && config.task.trim() !== '') {
      const tasks = await vscode.tasks.fetchTasks({ type: TASK_TYPE });
      const task = tasks.find((t) => t.name === config.task && (!folder || t.scope === folder)) ?? tasks.find((t) => t.name === config.task);
      if (!task) throw new Error(vscode.l10n.t('No serverworkers task named "{0}" (launch configuration "{1}"). Name a task of tasks.json in "task", or give "app" and the other server properties instead.', config.task, config.name));
      const { type: _type, label: _label, ...definition } = task.definition;
      return { definition: { name: task.name, ...definition } as ServerDefinition, label: task.name };
    }
    if (typeof config.app !== 'string') {
      throw new Error(vscode.l10n.t('The launch configuration "{0}" names no server: give "task" (a serverworkers task) or "app" (module:attribute) and the server\'s other properties.', config.name));
    }
    const definition: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      if (!DEBUG_KEYS.has(key) && (this.definitionKeys.size === 0 || this.definitionKeys.has(key))) definition[key] = value;
    }
    if (typeof config.serverName === 'string') definition.name = config.serverName;
    return { definition: definition as unknown as ServerDefinition };
  }

  dispose(): void {
    for (const run of this.launches.values()) void run.abandon();
    this.launches.clear();
  }
}

interface Listening {
  slot: number;
  pid: number;
  socketPath: string;
}

/** One launch: its server, the workers it holds for the debugger, and its sessions. */
class LaunchRun {
  readonly id = randomBytes(8).toString('hex');
  supervisor!: Supervisor;
  /** Slots that recycled after their session ended: their replacement boots without the debugger. */
  readonly skipNextBoot = new Set<number>();
  private active = true;
  private readonly heldSlots = new Set<number>();
  /** Workers this launch debugged, by pid (slot). */
  private readonly debugged = new Map<number, number>();
  private readonly queued: Listening[] = [];
  private waiter: { resolve: (first: Listening) => void; reject: (error: unknown) => void } | undefined;
  private mainSession: vscode.DebugSession | undefined;

  constructor(
    private readonly registry: ServerRegistry,
    private readonly folder: vscode.WorkspaceFolder | undefined,
    private readonly source: DebugpySource,
    private readonly debugWorkers: number | 'all',
    private readonly config: ServerWorkersDebugConfiguration,
  ) {}

  /** The supervisor's boot hook: the chosen workers wait for the debugger, the others boot on. */
  boot(worker: WorkerModel): Promise<Record<string, unknown>> {
    if (!this.active || this.skipNextBoot.delete(worker.slot)) return Promise.resolve({});
    const chosen = this.debugWorkers === 'all' || (worker.slot <= this.debugWorkers && !this.heldSlots.has(worker.slot));
    if (!chosen) return Promise.resolve({});
    this.heldSlots.add(worker.slot);
    this.debugged.set(worker.pid, worker.slot);
    this.supervisor.setDebugging(worker.pid, true);
    setImmediate(() => void this.askSocket(worker));
    return Promise.resolve({ debug: { timeout: CLIENT_WAIT_SECONDS, ...this.source } });
  }

  /** Starts the server; resolves with the first worker that listens for its debugger. */
  firstWorker(token: vscode.CancellationToken): Promise<Listening> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      token.onCancellationRequested(() => this.settle(new vscode.CancellationError()));
      this.supervisor.start().then(
        () => this.settle(new Error(vscode.l10n.t('All workers of {0} started, but none waited for the debugger.', this.supervisor.name))),
        (error: unknown) => {
          if (this.waiter) this.settle(error);
          else if (this.active && !(error instanceof Error && /was stopped/.test(error.message))) void reportError(error, this.supervisor.currentDefinition.python);
        },
      );
    });
  }

  mainStarted(session: vscode.DebugSession): void {
    this.mainSession = session;
    for (const listening of this.queued.splice(0)) void this.startChild(listening);
  }

  /** The launch's session ended: stop the server (or recycle its debugged workers when told to keep it). */
  async end(): Promise<void> {
    this.active = false;
    const server = this.registry.get(this.supervisor.id);
    if (!server) return;
    if (this.config.stopServerOnEnd !== false) {
      await server.supervisor.stop();
      this.registry.remove(server.supervisor);
      return;
    }
    for (const [pid, slot] of this.debugged) {
      server.supervisor.setDebugging(pid, false);
      if (this.config.recycleWorker !== false) await recycle(server, slot, pid);
    }
  }

  /** The launch did not get to its session: stop what it started. */
  async abandon(): Promise<void> {
    this.active = false;
    this.settle(new vscode.CancellationError());
    const server = this.registry.get(this.supervisor.id);
    if (server && server.supervisor.serverState !== 'failed') {
      await server.supervisor.stop();
      this.registry.remove(server.supervisor);
    }
  }

  private async askSocket(worker: WorkerModel): Promise<void> {
    let listening: Listening;
    try {
      listening = { slot: worker.slot, pid: worker.pid, socketPath: await startDebugpy(this.supervisor, worker.slot, this.source) };
    } catch (error) {
      this.supervisor.setDebugging(worker.pid, false);
      if (this.waiter) this.settle(error);
      else if (this.active) void reportError(error);
      return;
    }
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(listening);
    } else if (!this.active) {
      // too late: the worker gives up waiting for its client by itself
    } else if (this.mainSession) {
      await this.startChild(listening);
    } else {
      this.queued.push(listening);
    }
  }

  private async startChild(listening: Listening): Promise<void> {
    const target: SessionTarget = { serverId: this.supervisor.id, ...listening, recycle: this.config.recycleWorker !== false, launchId: this.id };
    const child: ServerWorkersDebugConfiguration = {
      type: DEBUG_TYPE,
      request: 'attach',
      name: vscode.l10n.t('{0} · worker {1}', this.supervisor.name, listening.slot),
      justMyCode: this.config.justMyCode,
      subProcess: false,
      __serverWorkers: target,
    };
    const started = await vscode.debug.startDebugging(this.folder, child, { parentSession: this.mainSession, lifecycleManagedByParent: true, compact: true });
    if (!started) this.supervisor.setDebugging(listening.pid, false);
  }

  private settle(error: unknown): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}

/** Asks the worker's agent to start debugpy; the path of the Unix socket it listens on. */
async function startDebugpy(supervisor: Supervisor, slot: number, source: DebugpySource): Promise<string> {
  const reply = await supervisor.requestWorker(slot, { t: 'debug', ...source }, DEBUG_COMMAND_TIMEOUT_MS);
  if (reply.t === 'debug' && typeof reply.path === 'string') return reply.path;
  if (reply.t === 'closed') throw new Error(vscode.l10n.t('Worker {0} of {1} exited before its debugger could attach.', slot, supervisor.name));
  const detail = typeof reply.error === 'string' ? reply.error : JSON.stringify(reply);
  if (/^debugpy is not installed/.test(detail)) throw new DebugpyMissingError(supervisor.currentDefinition.python);
  throw new Error(vscode.l10n.t('Worker {0} of {1} could not start debugpy: {2}', slot, supervisor.name, detail));
}

const recycling = new Set<number>();

/** Recycles a worker whose debug session ended: SIGTERM, the server starts its replacement. */
async function recycle(server: RunningServer, slot: number, pid: number): Promise<void> {
  const { supervisor } = server;
  const model = supervisor.model();
  const worker = model.workers.find((w) => w.slot === slot);
  if (supervisor.serverState !== 'running' || worker?.pid !== pid || worker.state === 'exited' || !model.capabilities?.respawnsWorkers) return;
  if (recycling.has(pid)) return; // killWorker acts on the slot: twice would kill the replacement
  recycling.add(pid);
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Recycling worker {0} of {1} after debugging', slot, supervisor.name) },
      () => supervisor.killWorker(slot, 'SIGTERM'),
    );
  } catch {
    // it exited meanwhile, or the server is stopping: nothing to recycle
  } finally {
    recycling.delete(pid);
  }
}

/** The worker an attach configuration names: `pid`, or `slot` (with `serverName` when several servers run). */
async function findWorker(registry: ServerRegistry, config: vscode.DebugConfiguration): Promise<{ server: RunningServer; worker: WorkerModel } | undefined> {
  const live = (server: RunningServer) => server.supervisor.model().workers.filter((w) => w.state !== 'exited');
  let pidText: unknown = config.pid;
  if (pidText === undefined && config.slot === undefined) {
    pidText = await pickWorker(registry, config.serverName);
    if (pidText === undefined) return undefined;
  }
  if (pidText !== undefined) {
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(vscode.l10n.t('"pid" must be the pid of a worker (got {0}).', JSON.stringify(pidText)));
    for (const server of registry.all()) {
      const worker = live(server).find((w) => w.pid === pid);
      if (worker) return { server, worker };
    }
    throw new Error(vscode.l10n.t('No running worker has pid {0}. The Workers view shows the workers and their pids.', pid));
  }
  const servers = registry.all().filter((s) => typeof config.serverName !== 'string' || s.supervisor.name === config.serverName || s.label === config.serverName);
  const running = servers.filter((s) => s.supervisor.serverState === 'running');
  if (running.length === 0) {
    throw new Error(typeof config.serverName === 'string'
      ? vscode.l10n.t('The server "{0}" is not running. Start it first (Server Workers: Start Workers).', config.serverName)
      : vscode.l10n.t('No server is running. Start one first (Server Workers: Start Workers), or use "request": "launch".'));
  }
  if (running.length > 1) throw new Error(vscode.l10n.t('Several servers are running: say which in "serverName" ({0}).', running.map((s) => s.supervisor.name).join(', ')));
  const worker = live(running[0]).find((w) => w.slot === Number(config.slot));
  if (!worker) throw new Error(vscode.l10n.t('{0} has no running worker in slot {1}.', running[0].supervisor.name, String(config.slot)));
  return { server: running[0], worker };
}

/** `${command:serverWorkers.pickWorker}`: a quick pick of every running worker (of `serverName`); its pid, as text. */
async function pickWorker(registry: ServerRegistry, serverName?: unknown): Promise<string | undefined> {
  const servers = registry.all().filter((s) => typeof serverName !== 'string' || s.supervisor.name === serverName || s.label === serverName);
  const items = servers.flatMap((server) => server.supervisor.model().workers
    .filter((w) => w.state === 'ready' || w.state === 'booting')
    .map((w) => ({
      label: vscode.l10n.t('worker {0}', w.slot),
      description: `${server.supervisor.name} · pid ${w.pid} · ${w.state}${w.debugging ? ` · ${vscode.l10n.t('debugging')}` : ''}`,
      pid: w.pid,
    })));
  if (items.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No worker is running. Start a server first (Server Workers: Start Workers), or use "request": "launch".'));
    return undefined;
  }
  if (items.length === 1) return String(items[0].pid);
  const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Debug a worker'), placeHolder: vscode.l10n.t('Which worker?') });
  return picked ? String(picked.pid) : undefined;
}

/** "Debug Worker" in the Workers view (or the palette: pick one). */
async function debugWorker(registry: ServerRegistry, node: WorkersNode | undefined): Promise<boolean> {
  let pid: number | undefined;
  let server: RunningServer | undefined;
  if (node?.kind === 'worker' && node.retiringPid === undefined) {
    server = registry.get(node.serverId);
    pid = server?.supervisor.model().workers.find((w) => w.slot === node.slot && w.state !== 'exited')?.pid;
    if (pid === undefined) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Worker {0} is not running.', node.slot));
      return false;
    }
  } else {
    const picked = await pickWorker(registry);
    if (picked === undefined) return false;
    pid = Number(picked);
    server = registry.all().find((s) => s.supervisor.model().workers.some((w) => w.pid === pid));
  }
  const slot = server?.supervisor.model().workers.find((w) => w.pid === pid)?.slot;
  return vscode.debug.startDebugging(server?.folder, {
    type: DEBUG_TYPE,
    request: 'attach',
    name: vscode.l10n.t('{0} · worker {1}', server?.supervisor.name ?? '', slot ?? ''),
    pid,
  });
}

/** Launch configurations offered in the Run and Debug view's list: one per serverworkers task, and attach. */
class DynamicConfigurations implements vscode.DebugConfigurationProvider {
  constructor(private readonly registry: ServerRegistry) {}

  async provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): Promise<vscode.DebugConfiguration[]> {
    const tasks = (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).filter((t) => !folder || t.scope === folder || typeof t.scope !== 'object');
    const configurations: vscode.DebugConfiguration[] = tasks.map((task) => ({
      type: DEBUG_TYPE,
      request: 'launch',
      name: vscode.l10n.t('Debug a worker of {0}', task.name),
      task: task.name,
      debugWorkers: 1,
    }));
    if (this.registry.all().length > 0) {
      configurations.push({ type: DEBUG_TYPE, request: 'attach', name: vscode.l10n.t('Attach to a worker'), pid: '${command:serverWorkers.pickWorker}' });
    }
    return configurations;
  }
}

async function reportError(error: unknown, python?: string): Promise<void> {
  if (error instanceof DebugpyMissingError) {
    await showDebugpyMissing(error);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  await showServerError(message.split('\n')[0], { python, message });
}
