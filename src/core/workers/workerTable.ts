/**
 * The server's workers by slot: the one place where a worker's state changes. Pure: no processes, no timers, no
 * clock (callers pass the time). Each change returns what happened (the event and the marker lines for the slot's
 * stream); the supervisor passes those on.
 *
 * A slot is a worker's position (1..N), kept by its successors: a worker that dies is replaced in its slot (restart
 * count + 1), a reload's new generation takes the old generation's slots one by one (the old worker retires and
 * finishes its requests), and a scale-down closes the slot of the worker the server chose to stop.
 */
import type { ExitReason, WorkerModel, WorkerState } from '../model';

interface WorkerRecord {
  slot: number;
  pid: number;
  state: WorkerState;
  startedAt: number;
  /** 1 for the workers of the first start; each reload's workers are one more. */
  generation: number;
  restarts: number;
  lastExit?: ExitReason;
  cpuPercent: number;
  rssBytes: number;
  debugging: boolean;
  /** Why the supervisor itself asked it to go (over the memory limit), for its exit reason. */
  recycledBecause?: string;
  /** The pid of the worker this one replaced in its slot. */
  previousPid?: number;
  /** When its exit was recorded (ms since the epoch). */
  exitedAt?: number;
}

const MAX_UNSEEN_EXITS = 256;

export interface MarkerLine {
  slot: number;
  pid: number;
  line: string;
}

/** What a change did: the worker event for listeners, the marker lines for the slot's stream. */
export interface WorkerChange {
  type: 'up' | 'ready' | 'exit';
  worker: WorkerModel;
  markers: MarkerLine[];
  /** An exit of a worker that never became ready. */
  diedBooting?: boolean;
}

/** What the table needs to know of the server when a worker exits. */
export interface ExitContext {
  /** The server replaces a worker that dies (and is running, not stopping). */
  replaced: boolean;
  /** Named in the marker of a worker that is not replaced. */
  serverKind: string;
  /** When the exit is recorded (ms since the epoch); unknown: now. */
  at?: number;
}

export class WorkerTable {
  private readonly slots = new Map<number, WorkerRecord>();
  private readonly byPid = new Map<number, WorkerRecord>();
  /** An old generation's workers that a new one replaced, finishing their requests. */
  private readonly retiring = new Set<WorkerRecord>();
  /** The generation being replaced by a reload: its workers hand their slots to the new ones. */
  private outgoing = new Set<WorkerRecord>();
  /** Exits the server will make by scaling down: their slots close instead of waiting for a replacement. */
  private pendingRemovals = 0;
  private generation = 1;
  /** When the current reload began (ms since the epoch); a worker the server started before it is of the old generation. */
  private reloadBeganAt = Number.NEGATIVE_INFINITY;
  private reloading = false;
  /** Pids whose exit the master reported before their hello came (Node may read the two connections in either order). */
  private readonly exitedUnseen = new Set<number>();

  /**
   * Records a new worker and gives it a slot; undefined when the pid is known already, or known to have exited.
   * `startedAt`: when its process started. One that started before the current reload began (the server replaced a
   * worker that died just then, before it took the reload's signal) belongs to the old generation: the server
   * retires it with the others, so it takes a free slot and is handed over like them.
   */
  add(pid: number, now: number, startedAt = now): WorkerChange | undefined {
    if (this.byPid.has(pid) || this.exitedUnseen.has(pid)) return undefined;
    const oldGeneration = this.outgoing.size > 0 && startedAt < this.reloadBeganAt;
    const { slot, previous } = oldGeneration ? this.freeSlotOutsideReload() : this.freeSlot();
    const worker: WorkerRecord = {
      slot, pid, state: 'booting', startedAt: now, generation: this.generation, restarts: 0, cpuPercent: 0, rssBytes: 0, debugging: false,
    };
    const markers: MarkerLine[] = [];
    if (previous) {
      const replacedAfterDeath = previous.state === 'exited' && !this.outgoing.has(previous);
      worker.previousPid = previous.pid;
      worker.restarts = previous.restarts + (replacedAfterDeath ? 1 : 0);
      worker.lastExit = previous.lastExit;
      const why = replacedAfterDeath ? `restarted: pid ${previous.pid} ${previous.lastExit?.text ?? 'exited'}` : `reloaded: pid ${previous.pid} retires`;
      this.outgoing.delete(previous);
      if (previous.state !== 'exited') {
        previous.state = 'stopping';
        this.retiring.add(previous);
      }
      markers.push({ slot, pid, line: `── worker ${slot} ${why} → new pid ${pid}` });
    }
    this.slots.set(slot, worker);
    this.byPid.set(pid, worker);
    if (oldGeneration) {
      worker.generation--;
      this.outgoing.add(worker);
    }
    return { type: 'up', worker: toModel(worker), markers };
  }

  /** booting -> ready; undefined when it was not booting. */
  markReady(pid: number): WorkerChange | undefined {
    const worker = this.byPid.get(pid);
    if (worker?.state !== 'booting') return undefined;
    worker.state = 'ready';
    return { type: 'ready', worker: toModel(worker), markers: [] };
  }

  /**
   * Records an exit. A worker that exited already (seen dead in /proc first) only gets the exact reason: see
   * correctExitReason. Its slot then waits for a replacement, closes (a reload's retired worker, a scale-down), or
   * says the server does not replace it.
   */
  exited(pid: number, reason: ExitReason, context: ExitContext): WorkerChange | undefined {
    const worker = this.byPid.get(pid);
    if (!worker) {
      if (!this.correctExitReason(pid, reason)) this.rememberUnseenExit(pid);
      return undefined;
    }
    this.byPid.delete(pid);
    const diedBooting = worker.state === 'booting';
    worker.state = 'exited';
    worker.exitedAt = context.at ?? Date.now();
    worker.lastExit = worker.recycledBecause ? { ...reason, text: `${worker.recycledBecause} (${reason.text})` } : reason;
    worker.cpuPercent = 0;
    const markers: MarkerLine[] = [];
    if (this.retiring.delete(worker)) {
      // An old generation's worker finished: its slot already belongs to its successor.
    } else if (this.outgoing.delete(worker)) {
      // Retired by a reload before a successor took its slot: the slot closes; the next new worker takes the lowest free one.
      this.slots.delete(worker.slot);
    } else if (this.reloading && isGraceful(reason) && this.slots.get(worker.slot) === worker) {
      // Stopped by the server during a reload: one it started as the reload began (replacing a worker that died just
      // then) that it counts in the old generation. Its slot closes; a death would wait for its replacement.
      this.slots.delete(worker.slot);
    } else if (this.pendingRemovals > 0 && this.slots.get(worker.slot) === worker) {
      this.pendingRemovals--;
      this.slots.delete(worker.slot);
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot} (pid ${pid}) removed by scaling down` });
    } else if (!context.replaced) {
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot} (pid ${pid}) ${reason.text}; ${context.serverKind} does not replace it` });
    }
    return { type: 'exit', worker: toModel(worker), markers, diedBooting };
  }

  private rememberUnseenExit(pid: number): void {
    this.exitedUnseen.add(pid);
    // A pid is reused only after many others: the oldest few are enough to remember.
    if (this.exitedUnseen.size > MAX_UNSEEN_EXITS) this.exitedUnseen.delete(this.exitedUnseen.values().next().value!);
  }

  /** The exact reason (the master's report) for an exit recorded earlier with what was known then. */
  correctExitReason(pid: number, reason: ExitReason): boolean {
    let corrected = false;
    for (const worker of this.slots.values()) {
      if ((worker.pid === pid && worker.state === 'exited') || (worker.lastExit && worker.previousPid === pid)) {
        worker.lastExit = reason;
        corrected = true;
      }
    }
    return corrected;
  }

  /** A reload begins (`now`: when its signal goes): the live workers are the outgoing generation; the workers that come next take their slots. */
  beginReload(now: number): void {
    this.reloading = true;
    this.reloadBeganAt = now;
    this.generation++;
    this.outgoing = new Set([...this.slots.values()].filter((w) => w.state !== 'exited'));
  }

  /**
   * Slots whose dead worker the server has not replaced within `afterMs`: it decided against it (its count changed
   * at the same moment, by a scale or a reload, and the death was the one it counted). Each closes, with a marker;
   * the changes, none when every dead slot is younger.
   */
  closeUnreplaced(now: number, afterMs: number): WorkerChange[] {
    const changes: WorkerChange[] = [];
    for (const worker of [...this.slots.values()]) {
      if (worker.state !== 'exited' || worker.exitedAt === undefined || now - worker.exitedAt < afterMs) continue;
      this.slots.delete(worker.slot);
      changes.push({ type: 'exit', worker: toModel(worker), markers: [{ slot: worker.slot, pid: worker.pid, line: `── worker ${worker.slot} (pid ${worker.pid}) was not replaced by the server: its slot closes` }] });
    }
    return changes;
  }

  /** The reload is over (settled, or given up). */
  endReload(): void {
    this.reloading = false;
  }

  /** The server was asked to stop one worker (scale down): the next exit closes its slot. */
  expectRemoval(): void {
    this.pendingRemovals++;
  }

  setUsage(pid: number, cpuPercent: number, rssBytes: number): void {
    const worker = this.byPid.get(pid);
    if (!worker) return;
    worker.cpuPercent = cpuPercent;
    worker.rssBytes = rssBytes;
  }

  /** True when it changed. The mark goes with the worker, not its slot. */
  setDebugging(pid: number, debugging: boolean): boolean {
    const worker = this.byPid.get(pid);
    if (!worker || worker.debugging === debugging) return false;
    worker.debugging = debugging;
    return true;
  }

  /** The supervisor asks the worker to go (over the memory limit): its exit reason will say why. */
  markRecycled(pid: number, why: string): void {
    const worker = this.byPid.get(pid);
    if (worker) worker.recycledBecause = why;
  }

  isRecycled(pid: number): boolean {
    return this.byPid.get(pid)?.recycledBecause !== undefined;
  }

  /** The server is stopping: every live worker is. */
  stopAll(): void {
    for (const worker of this.byPid.values()) worker.state = 'stopping';
  }

  /** The run is over: every worker exited; the slots stay to show how they ended. */
  endRun(): void {
    for (const worker of this.byPid.values()) worker.state = 'exited';
    this.byPid.clear();
    this.retiring.clear();
  }

  /** A new run starts from nothing. */
  clear(): void {
    this.slots.clear();
    this.byPid.clear();
    this.retiring.clear();
    this.outgoing.clear();
    this.pendingRemovals = 0;
    this.generation = 1;
    this.exitedUnseen.clear();
  }

  has(pid: number): boolean {
    return this.byPid.has(pid);
  }

  slotOf(pid: number): number | undefined {
    return this.byPid.get(pid)?.slot;
  }

  stateOf(pid: number): WorkerState | undefined {
    return this.byPid.get(pid)?.state;
  }

  /** The worker in a slot (live or the exited one waiting for its replacement). */
  inSlot(slot: number): WorkerModel | undefined {
    const worker = this.slots.get(slot);
    return worker && toModel(worker);
  }

  /** Pids of every live worker, retiring ones included. */
  livePids(): number[] {
    return [...this.byPid.keys()];
  }

  /** Live slot holders (not retiring): the ones /proc may show dead before the master reports it. */
  slotHolders(): WorkerModel[] {
    return [...this.slots.values()].filter((w) => w.state !== 'exited').map(toModel);
  }

  /**
   * Slots, including a dead worker's that waits for its replacement: the count a server that respawns its workers
   * is heading for (a worker SIGKILLed just before a scale is still one of them).
   */
  slotCount(): number {
    return this.slots.size;
  }

  liveCount(): number {
    let count = 0;
    for (const worker of this.slots.values()) if (worker.state !== 'exited') count++;
    return count;
  }

  /** Every slot holds a ready worker (exited rows count as not ready). */
  allSlotsReady(): boolean {
    for (const worker of this.slots.values()) if (worker.state !== 'ready') return false;
    return true;
  }

  /** Exactly `count` slots, each with a ready worker. */
  readyCount(count: number): boolean {
    return this.slots.size === count && this.allSlotsReady();
  }

  /** The reload is over: the old generation has handed over every slot and finished its requests. */
  reloadSettled(): boolean {
    return this.outgoing.size === 0 && this.retiring.size === 0;
  }

  /** The rows of the model: slots in order, then the retiring workers. */
  snapshot(): { workers: WorkerModel[]; retiring: WorkerModel[] } {
    return {
      workers: [...this.slots.values()].sort((a, b) => a.slot - b.slot).map(toModel),
      retiring: [...this.retiring].map(toModel),
    };
  }

  /**
   * The new worker takes the slot of a dead worker, else the old generation's during a reload, else the lowest free
   * one. A dead slot first: a new worker that dies during a reload is replaced while the old generation still has
   * slots to hand over, and a replacement that took one of those would leave the dead slot empty for good (the
   * server retires the old workers left over, and the reload never has its count of ready workers: the soak found it).
   */
  private freeSlot(): { slot: number; previous?: WorkerRecord } {
    if ([...this.slots.values()].some((w) => w.state === 'exited')) return this.freeSlotOutsideReload();
    const reloading = [...this.outgoing].filter((w) => this.slots.get(w.slot) === w).sort((a, b) => a.slot - b.slot);
    if (reloading.length > 0) return { slot: reloading[0].slot, previous: reloading[0] };
    return this.freeSlotOutsideReload();
  }

  /** A dead worker's slot, else the lowest free one. */
  private freeSlotOutsideReload(): { slot: number; previous?: WorkerRecord } {
    const dead = [...this.slots.values()].filter((w) => w.state === 'exited').sort((a, b) => a.slot - b.slot);
    if (dead.length > 0) return { slot: dead[0].slot, previous: dead[0] };
    let slot = 1;
    while (this.slots.has(slot)) slot++;
    return { slot };
  }
}

/** An exit the server asked for (SIGTERM and the like, or a clean exit), not a crash. */
function isGraceful(reason: ExitReason): boolean {
  return !reason.timedOut && (reason.signal === null ? reason.code === 0 || reason.code === null : ['SIGTERM', 'SIGINT', 'SIGQUIT'].includes(reason.signal));
}

function toModel(worker: WorkerRecord): WorkerModel {
  return Object.freeze({
    slot: worker.slot,
    pid: worker.pid,
    state: worker.state,
    startedAt: worker.startedAt,
    restarts: worker.restarts,
    lastExit: worker.lastExit,
    cpuPercent: worker.cpuPercent,
    rssBytes: worker.rssBytes,
    debugging: worker.debugging,
  });
}
