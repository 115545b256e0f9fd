/** Which worker to debug: the one a configuration names (pid, or slot and server), or the one the user picks. */
import * as vscode from 'vscode';
import type { WorkerModel } from '../../core/model';
import type { RunningServer, ServerRegistry } from '../serverRegistry';
import type { WorkersNode } from '../workersTree';
import { DEBUG_TYPE } from './types';

/** The worker an attach configuration names: `pid`, or `slot` (with `serverName` when several servers run). */
export async function findWorker(registry: ServerRegistry, config: vscode.DebugConfiguration): Promise<{ server: RunningServer; worker: WorkerModel } | undefined> {
  const live = (server: RunningServer) => server.supervisor.model().workers.filter((w) => w.state !== 'exited');
  let pidText: unknown = config.pid;
  if (pidText === undefined && config.slot === undefined) {
    pidText = await pickWorker(registry, config.serverName);
    if (pidText === undefined) return undefined;
  }
  if (pidText !== undefined) {
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(vscode.l10n.t('"pid" must be the pid of a worker (got {0}).', JSON.stringify(pidText)));
    for (const server of registry.all()) {
      const worker = live(server).find((w) => w.pid === pid);
      if (worker) return { server, worker };
    }
    throw new Error(vscode.l10n.t('No running worker has pid {0}. The Workers view shows the workers and their pids.', pid));
  }
  const servers = registry.all().filter((s) => typeof config.serverName !== 'string' || s.supervisor.name === config.serverName || s.label === config.serverName);
  const running = servers.filter((s) => s.supervisor.serverState === 'running');
  if (running.length === 0) {
    throw new Error(typeof config.serverName === 'string'
      ? vscode.l10n.t('The server "{0}" is not running. Start it first (Server Workers: Start Workers).', config.serverName)
      : vscode.l10n.t('No server is running. Start one first (Server Workers: Start Workers), or use "request": "launch".'));
  }
  if (running.length > 1) throw new Error(vscode.l10n.t('Several servers are running: say which in "serverName" ({0}).', running.map((s) => s.supervisor.name).join(', ')));
  const worker = live(running[0]).find((w) => w.slot === Number(config.slot));
  if (!worker) throw new Error(vscode.l10n.t('{0} has no running worker in slot {1}.', running[0].supervisor.name, String(config.slot)));
  return { server: running[0], worker };
}

/** `${command:serverWorkers.pickWorker}`: a quick pick of every running worker (of `serverName`); its pid, as text. */
export async function pickWorker(registry: ServerRegistry, serverName?: unknown): Promise<string | undefined> {
  const servers = registry.all().filter((s) => typeof serverName !== 'string' || s.supervisor.name === serverName || s.label === serverName);
  const items = servers.flatMap((server) => server.supervisor.model().workers
    .filter((w) => w.state === 'ready' || w.state === 'booting')
    .map((w) => ({
      label: vscode.l10n.t('worker {0}', w.slot),
      description: `${server.supervisor.name} · pid ${w.pid} · ${w.state}${w.debugging ? ` · ${vscode.l10n.t('debugging')}` : ''}`,
      pid: w.pid,
    })));
  if (items.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No worker is running. Start a server first (Server Workers: Start Workers), or use "request": "launch".'));
    return undefined;
  }
  if (items.length === 1) return String(items[0].pid);
  const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Debug a worker'), placeHolder: vscode.l10n.t('Which worker?') });
  return picked ? String(picked.pid) : undefined;
}

/** "Debug Worker" in the Workers view (or the palette: pick one). */
export async function debugWorker(registry: ServerRegistry, node: WorkersNode | undefined): Promise<boolean> {
  let pid: number | undefined;
  let server: RunningServer | undefined;
  if (node?.kind === 'worker' && node.retiringPid === undefined) {
    server = registry.get(node.serverId);
    pid = server?.supervisor.model().workers.find((w) => w.slot === node.slot && w.state !== 'exited')?.pid;
    if (pid === undefined) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Worker {0} is not running.', node.slot));
      return false;
    }
  } else {
    const picked = await pickWorker(registry);
    if (picked === undefined) return false;
    pid = Number(picked);
    server = registry.all().find((s) => s.supervisor.model().workers.some((w) => w.pid === pid));
  }
  const slot = server?.supervisor.model().workers.find((w) => w.pid === pid)?.slot;
  return vscode.debug.startDebugging(server?.folder, {
    type: DEBUG_TYPE,
    request: 'attach',
    name: vscode.l10n.t('{0} · worker {1}', server?.supervisor.name ?? '', slot ?? ''),
    pid,
  });
}
