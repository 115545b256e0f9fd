/**
 * Resolving `serverworkers` configurations. Both requests reach VS Code as an attach to debugpy in a worker:
 * - `"request": "attach"`: the named (or picked) worker's agent starts its debugger; the session connects to it.
 * - `"request": "launch"`: the server starts with the chosen workers held at boot until their debugger is attached;
 *   the first one is this session, the others child sessions (LaunchRun).
 * The resolved configuration goes on with `"request": "attach"` and the worker's socket in `__serverWorkers`. What
 * does it (resolveSession.ts, and the launch, the debugger's start in a worker) is loaded on the first session.
 */
import * as vscode from 'vscode';
import type { ServerRegistry } from '../serverRegistry';
import { TASK_TYPE } from '../taskProvider';
import type { WorkerRecycler } from './recycler';
import type { DebugSessions } from './sessions';
import { DEBUG_TYPE, type ServerWorkersDebugConfiguration } from './types';

export class WorkerDebugConfigurations implements vscode.DebugConfigurationProvider {
  constructor(
    private readonly registry: ServerRegistry,
    private readonly sessions: DebugSessions,
    private readonly recycler: WorkerRecycler,
    /** The properties a serverworkers task takes (package.json), which a launch configuration may give inline. */
    private readonly definitionKeys: Set<string>,
  ) {}

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
    const { resolveWorkerSession } = await import('./resolveSession');
    return resolveWorkerSession({ registry: this.registry, sessions: this.sessions, recycler: this.recycler, definitionKeys: this.definitionKeys }, folder, config);
  }
}
