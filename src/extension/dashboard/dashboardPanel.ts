/**
 * One dashboard panel, following a server by its name: the supervisor of that name (a stop and a start make a new
 * one; the panel says "stopped", then goes on with the new run). While its page is visible and has said `ready`, it
 * gets the history once and then each new second; hidden, it gets nothing (no retainContextWhenHidden: VS Code
 * drops the page) and catches up from the ring when shown again.
 */
import * as vscode from 'vscode';
import type { Supervisor } from '../../core/supervisor';
import { type PageMessage, parsePageMessage, type RowAction } from '../../../webview/dashboard/protocol';
import { onCore, type ServerRegistry } from '../serverRegistry';
import type { WorkersNode } from '../workersTree';
import { DashboardFeed } from './feed';
import { dashboardHtml, pageRoot } from './html';

export const DASHBOARD_VIEW_TYPE = 'serverWorkers.dashboard';

const ROW_COMMANDS: Record<RowAction, string> = {
  showLogs: 'serverWorkers.showLogs',
  showStack: 'serverWorkers.showStack',
  debugWorker: 'serverWorkers.debugWorker',
};

export function panelTitle(serverName: string): string {
  return vscode.l10n.t('Dashboard: {0}', serverName);
}

export class DashboardPanel implements vscode.Disposable {
  private feed: DashboardFeed;
  private ready = false;
  private disposed = false;
  private following: vscode.Disposable | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly disposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposeEmitter.event;

  constructor(readonly panel: vscode.WebviewPanel, readonly serverName: string, private readonly registry: ServerRegistry, extensionUri: vscode.Uri) {
    panel.title = panelTitle(serverName);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'workers.svg');
    panel.webview.options = { enableScripts: true, localResourceRoots: [pageRoot(extensionUri)] };
    panel.webview.html = dashboardHtml(panel.webview, extensionUri, { serverName });
    this.feed = new DashboardFeed(serverName, undefined);
    this.follow(registry.findByName(serverName)?.supervisor);
    this.subscriptions.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.received(raw)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false; // its page is gone; the next one says ready
      }),
      registry.onDidAdd(({ supervisor }) => {
        if (supervisor.name === serverName) this.follow(supervisor);
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** The supervisor whose history the page shows now. */
  get supervisor(): Supervisor | undefined {
    return this.feed.supervisor;
  }

  reveal(): void {
    this.panel.reveal();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.following?.dispose();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    this.disposeEmitter.fire();
    this.disposeEmitter.dispose();
    this.panel.dispose();
  }

  private follow(supervisor: Supervisor | undefined): void {
    if (supervisor !== undefined && supervisor === this.feed.supervisor) return;
    this.following?.dispose();
    this.feed = new DashboardFeed(this.serverName, supervisor);
    this.following = supervisor && onCore(supervisor.history.onSecond, () => this.send('append'));
    this.send('reset');
  }

  private send(kind: 'reset' | 'append'): void {
    if (!this.ready || !this.panel.visible) return;
    void this.panel.webview.postMessage(kind === 'reset' ? this.feed.reset() : this.feed.append());
  }

  private received(raw: unknown): void {
    const message = parsePageMessage(raw);
    if (!message) {
      console.warn(`[server-workers] the dashboard of ${this.serverName} sent a message of the wrong shape; ignored: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    this.act(message);
  }

  private act(message: PageMessage): void {
    if (message.type === 'ready') {
      this.ready = true;
      this.send('reset');
      return;
    }
    const server = this.registry.all().find((s) => s.supervisor === this.feed.supervisor);
    if (!server) {
      void vscode.window.showInformationMessage(vscode.l10n.t('{0} is not running.', this.serverName));
      return;
    }
    const node: WorkersNode = { kind: 'worker', serverId: server.supervisor.id, slot: message.slot };
    void vscode.commands.executeCommand(ROW_COMMANDS[message.action], node);
  }
}
