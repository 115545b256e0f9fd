/**
 * The debug sessions of workers, from their start to their end: which worker each debugs, the launches they belong to;
 * a session's end clears the worker's mark and recycles it, or ends its launch.
 */
import type * as vscode from 'vscode';
import type { ServerRegistry } from '../serverRegistry';
import type { LaunchRun } from './launchRun';
import { ReloadReattach } from './reattach';
import type { WorkerRecycler } from './recycler';
import { DEBUG_TYPE, type SessionTarget, targetOf } from './types';

export class DebugSessions implements vscode.Disposable {
  private readonly sessions = new Map<string, SessionTarget>();
  private readonly launches = new Map<string, LaunchRun>();
  /** Sessions follow their worker's slot across reloads. */
  readonly reattach = new ReloadReattach();

  constructor(private readonly registry: ServerRegistry, private readonly recycler: WorkerRecycler) {}

  /** A launch begins: its sessions end it. */
  addLaunch(run: LaunchRun): void {
    this.launches.set(run.id, run);
  }

  forgetLaunch(run: LaunchRun): void {
    this.launches.delete(run.id);
  }

  /** A session already debugs this worker. */
  debugs(pid: number): boolean {
    return [...this.sessions.values()].some((target) => target.pid === pid);
  }

  started(session: vscode.DebugSession): void {
    const target = targetOf(session);
    if (session.type !== DEBUG_TYPE || !target) return;
    this.sessions.set(session.id, target);
    this.reattach.started(session);
    if (target.main && target.launchId) this.launches.get(target.launchId)?.mainStarted(session);
  }

  terminated(session: vscode.DebugSession): void {
    const target = this.sessions.get(session.id);
    if (!target) return;
    this.sessions.delete(session.id);
    const server = this.registry.get(target.serverId);
    server?.supervisor.setDebugging(target.pid, false);
    if (this.reattach.endedByReload(session, server)) return; // a session attaches to the worker that took its slot
    const run = target.launchId ? this.launches.get(target.launchId) : undefined;
    if (run && target.main) {
      this.launches.delete(run.id);
      void run.end().catch(async (error: unknown) => (await import('./workerDebugger')).reportDebugError(error));
      return;
    }
    if (server && target.recycle) {
      run?.skipNextBoot(target.slot);
      void this.recycler.recycle(server, target.slot, target.pid);
    }
  }

  dispose(): void {
    for (const run of this.launches.values()) void run.abandon();
    this.launches.clear();
  }
}
