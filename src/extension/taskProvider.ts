/** Tasks of type `serverworkers`: those in tasks.json, resolved to a CustomExecution the extension owns. */
import * as vscode from 'vscode';
import type { ServerDefinition } from '../core/definition';
import type { ServerRegistry } from './serverRegistry';
import { ServerTerminal } from './serverTerminal';

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
    return new ServerTerminal(registry, { name: label, ...rest } as ServerDefinition, folder);
  });
  const task = new vscode.Task(definition, scope, label, TASK_TYPE, execution, ['$serverworkers']);
  task.isBackground = true;
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Silent, panel: vscode.TaskPanelKind.Dedicated, clear: true };
  return task;
}

export class ServerTaskProvider implements vscode.TaskProvider {
  constructor(private readonly registry: ServerRegistry) {}

  provideTasks(): vscode.Task[] {
    return [];
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const definition = task.definition as ServerTaskDefinition;
    if (definition.type !== TASK_TYPE) return undefined;
    const scope = task.scope ?? vscode.TaskScope.Workspace;
    return createServerTask(this.registry, definition, scope as vscode.WorkspaceFolder | vscode.TaskScope.Workspace, task.name);
  }
}
