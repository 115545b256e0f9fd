/** The Run and Debug view's list of configurations: one launch per serverworkers task, and attach when a server runs. */
import * as vscode from 'vscode';
import type { ServerRegistry } from '../serverRegistry';
import { TASK_TYPE } from '../taskProvider';
import { DEBUG_TYPE } from './types';

/** Launch configurations offered in the Run and Debug view's list: one per serverworkers task, and attach. */
export class DynamicConfigurations implements vscode.DebugConfigurationProvider {
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
