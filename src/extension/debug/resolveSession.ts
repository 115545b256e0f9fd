/**
 * A `serverworkers` session resolved (configurationProvider.ts says how), loaded with the first one: the worker's
 * debugger started for an attach; for a launch, the server started with its chosen workers held at boot.
 */
import * as vscode from 'vscode';
import type { ServerDefinition } from '../../core/definition';
import { settings } from '../config';
import type { ServerRegistry } from '../serverRegistry';
import { TASK_TYPE } from '../taskProvider';
import { BootHolds } from './bootHolds';
import { findDebugpy } from './debugpy';
import { LaunchRun } from './launchRun';
import type { WorkerRecycler } from './recycler';
import type { DebugSessions } from './sessions';
import { LAUNCH_BOOT_TIMEOUT_MS, type Listening, type ServerWorkersDebugConfiguration, type SessionTarget } from './types';
import { reportDebugError, startWorkerDebugger } from './workerDebugger';
import { findWorker } from './workerPick';

export interface SessionContext {
  registry: ServerRegistry;
  sessions: DebugSessions;
  recycler: WorkerRecycler;
  /** The properties a serverworkers task takes (package.json), which a launch configuration may give inline. */
  definitionKeys: Set<string>;
}

/** Keys of a launch configuration that are not the server's definition. */
const DEBUG_KEYS = new Set(['type', 'request', 'name', 'task', 'serverName', 'debugWorkers', 'stopServerOnEnd', 'recycleWorker', 'justMyCode', '__serverWorkers']);

/** An attach or a launch resolved to an attach to a worker's debugger; undefined (said to the user) when it cannot be. */
export async function resolveWorkerSession(
  ctx: SessionContext,
  folder: vscode.WorkspaceFolder | undefined,
  config: ServerWorkersDebugConfiguration,
): Promise<vscode.DebugConfiguration | undefined> {
  try {
    return config.request === 'launch' ? await launch(ctx, folder, config) : await attach(ctx, config);
  } catch (error) {
    void reportDebugError(error); // not awaited: the message waits for the user, the launch must not
    return undefined; // undefined: the session does not start, and launch.json is not opened
  }
}

async function attach(ctx: SessionContext, config: ServerWorkersDebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
  const found = await findWorker(ctx.registry, config);
  if (!found) return undefined;
  const { server, worker } = found;
  if (ctx.sessions.debugs(worker.pid)) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Worker {0} (pid {1}) is being debugged already.', worker.slot, worker.pid));
    return undefined;
  }
  const source = await findDebugpy(server.supervisor.currentDefinition.python);
  const socketPath = await startWorkerDebugger(server.supervisor, worker.slot, source);
  server.supervisor.setDebugging(worker.pid, true);
  const target: SessionTarget = { serverId: server.supervisor.id, slot: worker.slot, pid: worker.pid, socketPath, recycle: config.recycleWorker !== false };
  return { ...config, request: 'attach', subProcess: false, __serverWorkers: target };
}

async function launch(ctx: SessionContext, folder: vscode.WorkspaceFolder | undefined, config: ServerWorkersDebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
  if (!settings(folder).agent) {
    throw new Error(vscode.l10n.t('Debugging a worker needs the in-worker agent: turn the setting serverWorkers.agent back on.'));
  }
  const { definition, label } = await launchDefinition(ctx, folder, config);
  const resolved = await ctx.registry.resolve(definition, folder);
  const running = ctx.registry.findByName(resolved.name);
  if (running && running.supervisor.serverState !== 'stopped' && running.supervisor.serverState !== 'failed') {
    throw new Error(vscode.l10n.t('"{0}" is running already. Stop it first, or attach to one of its workers ("request": "attach").', resolved.name));
  }
  const debugWorkers: unknown = config.debugWorkers ?? 1;
  if (debugWorkers !== 'all' && !(typeof debugWorkers === 'number' && Number.isInteger(debugWorkers) && debugWorkers >= 1 && debugWorkers <= resolved.workers)) {
    throw new Error(vscode.l10n.t('"debugWorkers" must be "all" or a whole number from 1 to the worker count ({0}); got {1}.', resolved.workers, JSON.stringify(debugWorkers)));
  }
  const source = await findDebugpy(resolved.python);
  const holds = new BootHolds(debugWorkers, source);
  const server = await ctx.registry.create(resolved, folder, label, { onWorkerBoot: (worker) => holds.boot(worker), bootTimeoutMs: LAUNCH_BOOT_TIMEOUT_MS });
  server.disposables.push(holds);
  const run = new LaunchRun({ registry: ctx.registry, supervisor: server.supervisor, holds, recycler: ctx.recycler, folder, source, config });
  ctx.sessions.addLaunch(run);
  let first: Listening;
  try {
    first = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Starting {0} with a worker waiting for the debugger', resolved.name), cancellable: true },
      (_progress, token) => run.firstWorker(token),
    );
  } catch (error) {
    ctx.sessions.forgetLaunch(run);
    await run.abandon();
    if (!(error instanceof vscode.CancellationError)) void reportDebugError(error);
    return undefined;
  }
  const target: SessionTarget = { serverId: server.supervisor.id, ...first, recycle: config.recycleWorker !== false, launchId: run.id, main: true };
  return { ...config, request: 'attach', subProcess: false, __serverWorkers: target };
}

/** A launch's server: the task named by `task`, else the configuration's own properties (those of a task). */
async function launchDefinition(ctx: SessionContext, folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<{ definition: ServerDefinition; label?: string }> {
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
    if (!DEBUG_KEYS.has(key) && (ctx.definitionKeys.size === 0 || ctx.definitionKeys.has(key))) definition[key] = value;
  }
  if (typeof config.serverName === 'string') definition.name = config.serverName;
  return { definition: definition as unknown as ServerDefinition };
}
