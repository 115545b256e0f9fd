/** The dashboard panels of the window, one per server name: opened by the command, restored after a window reload. */
import * as vscode from 'vscode';
import { parsePageState } from '../../../webview/dashboard/protocol';
import type { ServerRegistry } from '../serverRegistry';
import { DASHBOARD_VIEW_TYPE, DashboardPanel, panelTitle } from './dashboardPanel';

export class DashboardPanels implements vscode.Disposable {
  private readonly panels = new Map<string, DashboardPanel>();

  constructor(private readonly registry: ServerRegistry, private readonly extensionUri: vscode.Uri) {}

  /** Shows the dashboard of `serverName`: its panel if it has one, else a new one. */
  open(serverName: string): DashboardPanel {
    const known = this.panels.get(serverName);
    if (known) {
      known.reveal();
      return known;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, panelTitle(serverName), vscode.ViewColumn.Active, { enableScripts: true });
    return this.adopt(panel, serverName);
  }

  /** A panel VS Code brings back after a window reload, with the state its page kept. */
  restore(panel: vscode.WebviewPanel, state: unknown): void {
    const serverName = parsePageState(state)?.serverName;
    if (!serverName || this.panels.has(serverName)) {
      panel.dispose(); // nothing says which server it showed, or that server's dashboard is open already
      return;
    }
    this.adopt(panel, serverName);
  }

  dispose(): void {
    for (const panel of [...this.panels.values()]) panel.dispose();
  }

  private adopt(panel: vscode.WebviewPanel, serverName: string): DashboardPanel {
    const dashboard = new DashboardPanel(panel, serverName, this.registry, this.extensionUri);
    this.panels.set(serverName, dashboard);
    dashboard.onDidDispose(() => this.panels.delete(serverName));
    return dashboard;
  }
}
