/**
 * Server Workers: Open Dashboard, and the panels VS Code restores after a window reload. Registered at activation in
 * a few lines; the panels' code (dashboardPanels.ts and below) loads on first use.
 */
import * as vscode from 'vscode';
import type { CommandContext, Target } from '../commandIds';

const VIEW_TYPE = 'serverWorkers.dashboard';

type Panels = import('./dashboardPanels').DashboardPanels;

export function registerDashboard(context: vscode.ExtensionContext, ctx: CommandContext): vscode.Disposable[] {
  let panels: Promise<Panels> | undefined;
  const load = () => (panels ??= import('./dashboardPanels').then(({ DashboardPanels }) => new DashboardPanels(ctx.registry, context.extensionUri)));
  return [
    vscode.commands.registerCommand('serverWorkers.openDashboard', async (target?: Target) => {
      try {
        const { pickServer } = await import('../commandHandlers');
        const server = await pickServer(ctx, target);
        if (server) (await load()).open(server.supervisor.name);
      } catch (error) {
        void vscode.window.showErrorMessage(error instanceof Error ? error.message : String(error));
      }
    }),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state: unknown) => (await load()).restore(panel, state),
    }),
    { dispose: () => void panels?.then((p) => p.dispose()) },
  ];
}
