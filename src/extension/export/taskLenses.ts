/** "Export for Production..." above each serverworkers task of a tasks.json. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonc } from '../../core/tasksFile';
import type { ExportArgument } from './exportCommand';

export function exportLenses(document: vscode.TextDocument): vscode.CodeLens[] {
  let parsed: unknown;
  try {
    parsed = parseJsonc(document.getText());
  } catch {
    return []; // VS Code marks the JSON's own errors
  }
  const tasks = (parsed as { tasks?: unknown })?.tasks;
  if (!Array.isArray(tasks)) return [];
  const folder = path.dirname(path.dirname(document.uri.fsPath));
  const text = document.getText();
  const lenses: vscode.CodeLens[] = [];
  let from = 0;
  for (const task of tasks as Array<Record<string, unknown>>) {
    if (task?.type !== 'serverworkers' || typeof task.label !== 'string') continue;
    // Where the task's label is written: the lens goes on its line (labels are unique in a tasks.json).
    const at = text.indexOf(JSON.stringify(task.label), from);
    if (at === -1) continue;
    from = at + 1;
    const line = document.positionAt(at).line;
    const argument: ExportArgument = { task: task.label, folder };
    lenses.push(new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
      title: vscode.l10n.t('Export for Production...'),
      command: 'serverWorkers.exportForProduction',
      arguments: [argument],
    }));
  }
  return lenses;
}
