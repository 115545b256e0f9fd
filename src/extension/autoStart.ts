/** serverWorkers.autoStart: the tasks to start when the workspace opens (trusted workspaces only). */
import * as vscode from 'vscode';
import { settings } from './config';
import { TASK_TYPE } from './taskProvider';

/** Starts each folder's autoStart tasks; returns the names it started (and says which names match no task). */
export async function startAutoStartTasks(): Promise<string[]> {
  if (!vscode.workspace.isTrusted) return [];
  const wanted = new Map<string, vscode.WorkspaceFolder | undefined>();
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    for (const name of settings(folder).autoStart) wanted.set(name, folder);
  }
  if (wanted.size === 0) return [];
  const tasks = await vscode.tasks.fetchTasks({ type: TASK_TYPE });
  const started: string[] = [];
  for (const [name] of wanted) {
    const task = tasks.find((t) => t.name === name);
    if (!task) {
      void vscode.window.showWarningMessage(vscode.l10n.t('serverWorkers.autoStart names "{0}", but no serverworkers task has that label.', name));
      continue;
    }
    await vscode.tasks.executeTask(task);
    started.push(name);
  }
  return started;
}
