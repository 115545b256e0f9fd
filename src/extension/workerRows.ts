/**
 * The Workers view's rows: what a server, its master and each worker show (label, description, icon, tooltip), from
 * the model and the time. A worker's row says first what a developer scans for: its state, requests a second, p99 and
 * memory, then CPU and uptime; its pid is in the tooltip. Time moves a row's text at most once a second (a process's
 * first minute, a request in flight), else once a minute (uptime in minutes, hours, days).
 */
import * as vscode from 'vscode';
import type { ProcessModel, ServerModel, WorkerModel } from '../core/model';
import { sumInsights } from '../core/workers/insight';
import { formatBytes, formatCpu, formatUptime, serverStateIcon, workerStateIcon } from './format';
import { serverGlance, serverInsightLines, timeoutWarning, workerGlance, workerInsightLines } from './insightText';

/** A worker at this share of the memory limit is marked in the tree. */
const NEAR_MEMORY_LIMIT = 0.9;

export function signature(item: vscode.TreeItem): string {
  const icon = item.iconPath instanceof vscode.ThemeIcon ? `${item.iconPath.id}/${item.iconPath.color?.id ?? ''}` : '';
  const tooltip = typeof item.tooltip === 'string' ? item.tooltip : item.tooltip?.value ?? '';
  return JSON.stringify([item.label, item.description, icon, item.contextValue, tooltip]);
}

export function serverItem(model: ServerModel): vscode.TreeItem {
  const ready = model.workers.filter((w) => w.state === 'ready').length;
  const item = new vscode.TreeItem(model.name, vscode.TreeItemCollapsibleState.Expanded);
  item.id = `${model.id}/`;
  item.description = vscode.l10n.t('{0} · {1}/{2} ready · {3}', model.url, ready, model.desiredWorkers, model.state);
  const totals = sumInsights(model.workers);
  if (totals) item.description = `${item.description} · ${serverGlance(totals)}`;
  const { icon, color } = serverStateIcon(model.state);
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  const flags = [
    model.capabilities ? 'canScale' : '',
    model.capabilities ? 'canReload' : '',
    model.state === 'running' ? 'running' : '',
    model.reload.onSave ? 'reloadOnSave' : 'reloadOnRequest',
  ].filter(Boolean);
  item.contextValue = ['server', ...flags].join(' ');
  const paragraphs = [`**${model.name}** (${model.kind}) · ${model.state}`, model.url, vscode.l10n.t('{0} of {1} workers ready', ready, model.desiredWorkers)];
  if (model.workersFormula) paragraphs.push(vscode.l10n.t('Worker count from the CPU count: {0}', model.workersFormula));
  if (model.memoryLimitBytes) paragraphs.push(vscode.l10n.t('Memory limit per worker: {0}', formatBytes(model.memoryLimitBytes)));
  if (totals) paragraphs.push(serverInsightLines(totals).join('  \n'));
  paragraphs.push(reloadParagraph(model));
  const tooltip = new vscode.MarkdownString(paragraphs.join('\n\n'));
  if (model.error) tooltip.appendCodeblock(model.error, 'text');
  item.tooltip = tooltip;
  return item;
}

/** How the server reloads, said in its tooltip: on save or not, the generation serving, why it restarts, the last failure. */
function reloadParagraph(model: ServerModel): string {
  const { onSave, generation, restartBecause, failure } = model.reload;
  const lines = [onSave ? vscode.l10n.t('Reload on save: on · generation {0} serving', generation) : vscode.l10n.t('Reload on save: off · generation {0} serving', generation)];
  if (restartBecause) lines.push(vscode.l10n.t('A reload restarts the whole server: {0}.', restartBecause));
  if (failure) lines.push(vscode.l10n.t('The last reload failed, serving the previous code: {0}', failure.message));
  return lines.join('\n\n');
}

export function processItem(model: ServerModel, label: string, proc: ProcessModel | undefined, now = Date.now()): vscode.TreeItem {
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `${model.id}/master`;
  item.description = proc ? `${formatBytes(proc.rssBytes)} · ${formatCpu(proc.cpuPercent)} · ${formatUptime(proc.startedAt, now)}` : '';
  item.iconPath = new vscode.ThemeIcon('server-process');
  item.contextValue = 'master';
  item.tooltip = proc ? vscode.l10n.t('{0} master, pid {1}', model.kind, proc.pid) : undefined;
  if (proc?.pdb) markInPdb(item);
  return item;
}

/** A process that waits in pdb (breakpoint()): its row says so first. */
function markInPdb(item: vscode.TreeItem): void {
  item.description = vscode.l10n.t('in pdb · {0}', typeof item.description === 'string' ? item.description : '');
  item.iconPath = new vscode.ThemeIcon('debug-pause', new vscode.ThemeColor('debugIcon.pauseForeground'));
}

export function workerItem(model: ServerModel, worker: WorkerModel, role?: 'retiring' | 'incoming', now = Date.now()): vscode.TreeItem {
  const label = role === 'retiring' ? vscode.l10n.t('worker {0} (retiring)', worker.slot)
    : role === 'incoming' ? vscode.l10n.t('worker {0} (new generation)', worker.slot)
      : vscode.l10n.t('worker {0}', worker.slot);
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = role ? `${model.id}/${role}/${worker.pid}` : `${model.id}/worker/${worker.slot}`;
  const live = worker.state !== 'exited';
  const generation = worker.generation > 1 ? vscode.l10n.t('gen {0}', worker.generation) : undefined;
  const glance = live && worker.insight ? workerGlance(worker.insight, now) : undefined;
  item.description = live
    ? [worker.state, glance, formatBytes(worker.rssBytes), generation, formatCpu(worker.cpuPercent), formatUptime(worker.startedAt, now)].filter(Boolean).join(' · ')
    : worker.lastExit?.text ?? vscode.l10n.t('exited');
  const { icon, color } = worker.debugging && live ? { icon: 'debug', color: 'debugIcon.startForeground' } : workerStateIcon(worker.state);
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  if (worker.debugging && live) item.description = vscode.l10n.t('debugging · {0}', item.description);
  const memoryShare = model.memoryLimitBytes ? worker.rssBytes / model.memoryLimitBytes : 0;
  if (live && memoryShare >= NEAR_MEMORY_LIMIT) {
    item.description = vscode.l10n.t('{0}% of memory limit · {1}', Math.round(memoryShare * 100), item.description);
    if (!worker.debugging) item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  }
  const slow = live ? timeoutWarning(worker.insight, now) : undefined;
  if (slow && !worker.debugging) item.iconPath = new vscode.ThemeIcon('watch', new vscode.ThemeColor('list.warningForeground'));
  if (worker.pdb && live) markInPdb(item);
  item.contextValue = role === 'incoming' ? 'workerIncoming' : live ? (worker.debugging ? 'worker debugging' : 'worker') : 'workerExited';
  const lines = [vscode.l10n.t('Worker {0} · pid {1} · {2}', worker.slot, worker.pid, worker.state), vscode.l10n.t('Generation: {0}', worker.generation), vscode.l10n.t('Restarts: {0}', worker.restarts)];
  if (worker.pdb && live) lines.push(vscode.l10n.t('In pdb at {0}:{1}', worker.pdb.file, worker.pdb.line));
  if (worker.lastExit) lines.push(vscode.l10n.t('Last exit: {0}', worker.lastExit.text));
  if (slow) lines.push(`⚠ ${slow}`);
  if (live && worker.insight) lines.push(...workerInsightLines(worker.insight, now));
  item.tooltip = lines.join('\n');
  item.command = { command: 'serverWorkers.showLogs', title: vscode.l10n.t('Show Logs'), arguments: [{ kind: 'worker', serverId: model.id, slot: worker.slot }] };
  return item;
}
