/** Tasks of type `serverworkers`: those in tasks.json, resolved to a CustomExecution the extension owns. */
import * as vscode from 'vscode';
import type { ServerDefinition } from '../core/definition';
import type { ServerRegistry } from './serverRegistry';

export const TASK_TYPE = 'serverworkers';

export interface ServerTaskDefinition extends vscode.TaskDefinition, Partial<ServerDefinition> {
  type: typeof TASK_TYPE;
}

export function createServerTask(
  registry: ServerRegistry,
  definition: ServerTaskDefinition,
  scope: vscode.WorkspaceFolder | vscode.TaskScope.Workspace | vscode.TaskScope.Global,
  label: string,
): vscode.Task {
  const folder = typeof scope === 'object' ? scope : vscode.workspace.workspaceFolders?.[0];
  const execution = new vscode.CustomExecution(async (resolved) => {
    const { type: _type, ...rest } = resolved as ServerTaskDefinition;
    const { ServerTerminal } = await import('./serverTerminal'); // loaded when a task first runs
    return new ServerTerminal(registry, { name: serverName(label, folder), ...rest } as ServerDefinition, folder, label, registry.memento);
  });
  const task = new vscode.Task(definition, scope, label, TASK_TYPE, execution, ['$serverworkers']);
  task.isBackground = true;
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Silent, panel: vscode.TaskPanelKind.Dedicated, clear: true };
  return task;
}

/** In a multi-root workspace two folders may both have an "api" task: their servers (and channels) take the folder's name. */
export function serverName(label: string, folder: vscode.WorkspaceFolder | undefined): string {
  return folder && (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `${folder.name}/${label}` : label;
}

export class ServerTaskProvider implements vscode.TaskProvider {
  constructor(private readonly registry: ServerRegistry) {}

  /** Tasks for the apps found in each workspace folder (FastAPI, Starlette, Flask, Django, gunicorn.conf.py, Procfile). */
  async provideTasks(): Promise<vscode.Task[]> {
    const { detectApps } = await import('../core/appDetection');
    const tasks: vscode.Task[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      for (const app of await detectApps(folder.uri.fsPath)) {
        const task = createServerTask(this.registry, { type: TASK_TYPE, ...app.definition }, folder, app.label);
        task.detail = vscode.l10n.t('Detected in {0}', app.source);
        tasks.push(task);
      }
    }
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const definition = task.definition as ServerTaskDefinition;
    if (definition.type !== TASK_TYPE) return undefined;
    const scope = task.scope ?? vscode.TaskScope.Workspace;
    return createServerTask(this.registry, definition, scope, task.name);
  }
}
