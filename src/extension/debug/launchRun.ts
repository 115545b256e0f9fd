/**
 * One launch (`"request": "launch"`): its server, the workers it holds for the debugger, and their sessions. The first
 * worker that listens becomes the launch's own session; the others become its child sessions. Made once the server
 * exists, with the boot holds that were given to it.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { ServerError } from '../../core/errors';
import type { WorkerModel } from '../../core/model';
import type { Supervisor } from '../../core/supervisor';
import type { ServerRegistry } from '../serverRegistry';
import type { BootHolds } from './bootHolds';
import type { DebugpySource } from './debugpy';
import type { WorkerRecycler } from './recycler';
import { DEBUG_TYPE, type Listening, type ServerWorkersDebugConfiguration, type SessionTarget } from './types';
import { reportDebugError, startWorkerDebugger } from './workerDebugger';

export interface LaunchParts {
  registry: ServerRegistry;
  supervisor: Supervisor;
  holds: BootHolds;
  recycler: WorkerRecycler;
  folder: vscode.WorkspaceFolder | undefined;
  source: DebugpySource;
  config: ServerWorkersDebugConfiguration;
}

export class LaunchRun {
  readonly id = randomBytes(8).toString('hex');
  private active = true;
  /** Workers this launch debugged, by pid (slot). */
  private readonly debugged = new Map<number, number>();
  private readonly queued: Listening[] = [];
  private waiter: { resolve: (first: Listening) => void; reject: (error: unknown) => void } | undefined;
  private mainSession: vscode.DebugSession | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly parts: LaunchParts) {
    this.subscription = parts.holds.onHeld((worker) => this.held(worker));
  }

  get supervisor(): Supervisor {
    return this.parts.supervisor;
  }

  /** A recycled slot's next worker boots without the debugger. */
  skipNextBoot(slot: number): void {
    this.parts.holds.skipNextBoot.add(slot);
  }

  /** Starts the server; resolves with the first worker that listens for its debugger. */
  firstWorker(token: vscode.CancellationToken): Promise<Listening> {
    const { supervisor } = this.parts;
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      token.onCancellationRequested(() => this.settle(new vscode.CancellationError()));
      supervisor.start().then(
        () => this.settle(new Error(vscode.l10n.t('All workers of {0} started, but none waited for the debugger.', supervisor.name))),
        (error: unknown) => {
          if (this.waiter) this.settle(error);
          else if (this.active && !(error instanceof ServerError && error.reason === 'stopped')) void reportDebugError(error);
        },
      );
    });
  }

  mainStarted(session: vscode.DebugSession): void {
    this.mainSession = session;
    for (const listening of this.queued.splice(0)) void this.startChild(listening);
  }

  /** The launch's session ended: stop the server (or recycle its debugged workers when told to keep it). */
  async end(): Promise<void> {
    this.stopHolding();
    const { registry, supervisor, config, recycler } = this.parts;
    const server = registry.get(supervisor.id);
    if (!server) return;
    if (config.stopServerOnEnd !== false) {
      await supervisor.stop();
      registry.remove(supervisor);
      return;
    }
    for (const [pid, slot] of this.debugged) {
      supervisor.setDebugging(pid, false);
      if (config.recycleWorker !== false) await recycler.recycle(server, slot, pid);
    }
  }

  /** The launch did not get to its session: stop what it started. */
  async abandon(): Promise<void> {
    this.stopHolding();
    this.settle(new vscode.CancellationError());
    const { registry, supervisor } = this.parts;
    if (registry.get(supervisor.id) && supervisor.serverState !== 'failed') {
      await supervisor.stop();
      registry.remove(supervisor);
    }
  }

  private stopHolding(): void {
    this.active = false;
    this.parts.holds.end();
    this.subscription.dispose();
  }

  /** A worker held at boot: it is debugged from now on, and its debugger is started as soon as it can listen. */
  private held(worker: WorkerModel): void {
    this.debugged.set(worker.pid, worker.slot);
    this.parts.supervisor.setDebugging(worker.pid, true);
    setImmediate(() => void this.askSocket(worker));
  }

  private async askSocket(worker: WorkerModel): Promise<void> {
    const { supervisor, source } = this.parts;
    let listening: Listening;
    try {
      listening = { slot: worker.slot, pid: worker.pid, socketPath: await startWorkerDebugger(supervisor, worker.slot, source) };
    } catch (error) {
      supervisor.setDebugging(worker.pid, false);
      if (this.waiter) this.settle(error);
      else if (this.active) void reportDebugError(error);
      return;
    }
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(listening);
    } else if (!this.active) {
      // too late: the worker gives up waiting for its client by itself
    } else if (this.mainSession) {
      await this.startChild(listening);
    } else {
      this.queued.push(listening);
    }
  }

  private async startChild(listening: Listening): Promise<void> {
    const { supervisor, config, folder } = this.parts;
    const target: SessionTarget = { serverId: supervisor.id, ...listening, recycle: config.recycleWorker !== false, launchId: this.id };
    const child: ServerWorkersDebugConfiguration = {
      type: DEBUG_TYPE,
      request: 'attach',
      name: vscode.l10n.t('{0} · worker {1}', supervisor.name, listening.slot),
      justMyCode: config.justMyCode,
      subProcess: false,
      __serverWorkers: target,
    };
    const started = await vscode.debug.startDebugging(folder, child, { parentSession: this.mainSession, lifecycleManagedByParent: true, compact: true });
    if (!started) supervisor.setDebugging(listening.pid, false);
  }

  private settle(error: unknown): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}
