/** One status-bar item per server: its workers and state; clicking opens its dashboard. */
import * as vscode from 'vscode';
import type { ServerModel } from '../core/model';
import type { ServerRegistry } from './serverRegistry';

export class ServerStatusItems implements vscode.Disposable {
  private readonly items = new Map<string, vscode.StatusBarItem>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly registry: ServerRegistry) {
    this.subscription = registry.onDidChange(() => this.reconcile());
  }

  /** The text each item shows, by server id (for tests). */
  texts(): Record<string, string> {
    return Object.fromEntries([...this.items].map(([id, item]) => [id, item.text]));
  }

  private reconcile(): void {
    const models = this.registry.models();
    const live = new Set(models.map((m) => m.id));
    for (const [id, item] of this.items) {
      if (!live.has(id)) {
        item.dispose();
        this.items.delete(id);
      }
    }
    for (const model of models) {
      let item = this.items.get(model.id);
      if (!item) {
        item = vscode.window.createStatusBarItem(`serverWorkers.${model.id}`, vscode.StatusBarAlignment.Left, 10);
        item.name = vscode.l10n.t('Server Workers: {0}', model.name);
        item.command = { command: 'serverWorkers.openDashboard', title: vscode.l10n.t('Open Dashboard'), arguments: [model.id] };
        this.items.set(model.id, item);
        item.show();
      }
      render(item, model);
    }
  }

  dispose(): void {
    this.subscription.dispose();
    for (const item of this.items.values()) item.dispose();
    this.items.clear();
  }
}

function render(item: vscode.StatusBarItem, model: ServerModel): void {
  const ready = model.workers.filter((w) => w.state === 'ready').length;
  const failure = model.reload.failure;
  const icon = model.state === 'running' ? (failure ? '$(warning)' : '$(server-process)') : model.state === 'failed' ? '$(error)' : '$(loading~spin)';
  const hint = failure ? ` · ${vscode.l10n.t('reload failed, serving the previous code')}` : '';
  const text = `${icon} ${model.name} ${ready}/${model.desiredWorkers}${hint}`;
  const tooltip = vscode.l10n.t('{0}: {1}, {2} of {3} workers ready at {4}. Click to open its dashboard.', model.name, model.state, ready, model.desiredWorkers, model.url)
    + (failure ? `\n${vscode.l10n.t('Reload failed, serving the previous code (generation {0}): {1}', failure.servingGeneration, failure.message)}` : '');
  const background = model.state === 'failed' ? 'statusBarItem.errorBackground' : failure ? 'statusBarItem.warningBackground' : undefined;
  // Each assignment sends the item to the window again, changed or not: a model changes every second or so.
  if (item.text !== text) item.text = text;
  if (item.tooltip !== tooltip) item.tooltip = tooltip;
  const shown = item.backgroundColor instanceof vscode.ThemeColor ? item.backgroundColor.id : undefined;
  if (shown !== background) item.backgroundColor = background ? new vscode.ThemeColor(background) : undefined;
}
