/**
 * Debug sessions follow their worker's slot across reloads: when a reload's new worker takes the slot of a debugged
 * worker (it is ready), a session with the same configuration attaches to it, so breakpoints keep working across saves.
 * The old session ends with its worker; that end neither ends its launch nor recycles anything. Sessions started from
 * the tree, from launch.json (attach or launch, child sessions too) are followed alike.
 */
import * as vscode from 'vscode';
import type { WorkerModel } from '../../core/model';
import type { RunningServer } from '../serverRegistry';
import { type ServerWorkersDebugConfiguration, type SessionTarget, targetOf } from './types';

interface Followed {
  sessionId: string;
  config: ServerWorkersDebugConfiguration;
  folder: vscode.WorkspaceFolder | undefined;
  target: SessionTarget;
}

export class ReloadReattach {
  /** The session debugging each slot (`serverId/slot`), kept past its end while a reload replaces its worker. */
  private readonly followed = new Map<string, Followed>();
  /** Sessions whose worker a reload replaced: their end is not the user's. */
  private readonly replaced = new Set<string>();

  started(session: vscode.DebugSession): void {
    const target = targetOf(session);
    if (!target) return;
    const config = session.configuration as ServerWorkersDebugConfiguration;
    this.followed.set(slotKey(target.serverId, target.slot), { sessionId: session.id, config, folder: session.workspaceFolder, target });
  }

  /** A session ended: true when a reload replaced its worker (a session attaches to the successor instead). */
  endedByReload(session: vscode.DebugSession, server: RunningServer | undefined): boolean {
    if (this.replaced.delete(session.id)) return true;
    const state = server?.supervisor.serverState;
    if (state === 'reloading' || state === 'restarting') return true; // its successor is coming: keep following the slot
    const target = targetOf(session);
    const key = target && slotKey(target.serverId, target.slot);
    if (key && this.followed.get(key)?.sessionId === session.id) this.followed.delete(key);
    return false;
  }

  /** A worker is ready: when it took a followed slot from the debugged worker, attach to it. */
  workerReady(server: RunningServer, worker: WorkerModel): void {
    const key = slotKey(server.supervisor.id, worker.slot);
    const followed = this.followed.get(key);
    if (!followed || followed.target.pid === worker.pid || worker.generation <= 1) return;
    this.followed.delete(key);
    this.replaced.add(followed.sessionId);
    void this.attach(server, worker, followed);
  }

  /** The debugger's start in a worker (and debugpy's search) load with the first reattach. */
  private async attach(server: RunningServer, worker: WorkerModel, followed: Followed): Promise<void> {
    const [{ findDebugpy }, { reportDebugError, startWorkerDebugger }] = await Promise.all([import('./debugpy'), import('./workerDebugger')]);
    const { supervisor } = server;
    try {
      const socketPath = await startWorkerDebugger(supervisor, worker.slot, await findDebugpy(supervisor.currentDefinition.python));
      supervisor.setDebugging(worker.pid, true);
      const target: SessionTarget = { ...followed.target, pid: worker.pid, socketPath };
      const started = await vscode.debug.startDebugging(followed.folder, { ...followed.config, __serverWorkers: target });
      if (!started) supervisor.setDebugging(worker.pid, false);
    } catch (error) {
      void reportDebugError(error);
    }
  }
}

function slotKey(serverId: string, slot: number): string {
  return `${serverId}/${slot}`;
}
