/**
 * Which workers a launch holds at boot for the debugger (launch.json `debugWorkers`: the first N slots, or all): the
 * supervisor's boot hook. A chosen worker is announced on `onHeld`; the others boot on.
 */
import * as vscode from 'vscode';
import type { WorkerModel } from '../../core/model';
import type { DebugpySource } from './debugpy';
import { CLIENT_WAIT_SECONDS } from './types';

export class BootHolds implements vscode.Disposable {
  private readonly heldEmitter = new vscode.EventEmitter<WorkerModel>();
  /** A worker held for its debugger: fired during the boot hook, before the worker is answered. */
  readonly onHeld = this.heldEmitter.event;
  /** Slots that recycled after their session ended: their replacement boots without the debugger. */
  readonly skipNextBoot = new Set<number>();
  private readonly heldSlots = new Set<number>();
  private active = true;

  constructor(private readonly debugWorkers: number | 'all', private readonly source: DebugpySource) {}

  /** The boot hook: the chosen workers wait for the debugger, the others boot on. */
  boot(worker: WorkerModel): Promise<Record<string, unknown>> {
    // A reload's workers boot on: the sessions of the workers they replace attach to them once ready (reattach.ts).
    if (!this.active || worker.generation > 1 || this.skipNextBoot.delete(worker.slot)) return Promise.resolve({});
    const chosen = this.debugWorkers === 'all' || (worker.slot <= this.debugWorkers && !this.heldSlots.has(worker.slot));
    if (!chosen) return Promise.resolve({});
    this.heldSlots.add(worker.slot);
    this.heldEmitter.fire(worker);
    return Promise.resolve({ debug: { timeout: CLIENT_WAIT_SECONDS, ...this.source } });
  }

  /** The launch is over: new workers boot without the debugger. */
  end(): void {
    this.active = false;
  }

  dispose(): void {
    this.heldEmitter.dispose();
  }
}
