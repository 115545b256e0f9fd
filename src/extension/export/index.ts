/**
 * Export for Production: registered at activation with what VS Code needs to show it (the command, the CodeLens
 * above each serverworkers task in tasks.json); the rest (the export itself, its YAML library) is imported on
 * first use.
 */
import * as vscode from 'vscode';
import type { ServerRegistry } from '../serverRegistry';
import type { WorkersNode } from '../workersTree';
import type { ExportArgument } from './exportCommand';

export const EXPORT_COMMAND = 'serverWorkers.exportForProduction';

export function registerExport(registry: ServerRegistry): vscode.Disposable[] {
  return [
    // From the tree, VS Code passes the row (and the selected rows); a caller may pass answers after a row.
    vscode.commands.registerCommand(EXPORT_COMMAND, async (arg?: ExportArgument | WorkersNode | string, rowAnswers?: unknown) => {
      try {
        const { exportForProduction } = await import('./exportCommand');
        const answers = typeof rowAnswers === 'object' && rowAnswers !== null && !Array.isArray(rowAnswers) ? rowAnswers as ExportArgument : undefined;
        return await exportForProduction(registry, arg, answers);
      } catch (error) {
        void vscode.window.showErrorMessage(error instanceof Error ? error.message : String(error));
        return undefined;
      }
    }),
    vscode.languages.registerCodeLensProvider({ pattern: '**/.vscode/tasks.json' }, {
      provideCodeLenses: async (document) => (await import('./taskLenses')).exportLenses(document),
    }),
  ];
}
