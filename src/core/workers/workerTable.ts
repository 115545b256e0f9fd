/**
 * The server's workers by slot: the one place where a worker's state changes. Pure: no processes, no timers, no
 * clock (callers pass the time). Each change returns what happened (the event and the marker lines for the slot's
 * stream); the supervisor passes those on.
 *
 * A slot is a worker's position (1..N), kept by its successors: a worker that dies is replaced in its slot (restart
 * count + 1), a reload's new worker boots beside the old generation's worker and takes its slot when it is ready (the
 * old worker retires and finishes its requests; a new worker that dies before it is ready leaves the old one serving),
 * and a scale-down closes the slot of the worker the server chose to stop. A worker the server itself hands over to a
 * successor started first (Granian: memory, lifetime) is replaced the same way as a reload's.
 */
import type { ExitReason, PdbStop, WorkerInsight, WorkerModel, WorkerState } from '../model';
import { type ExitContext, isGraceful, type MarkerLine, toModel, type WorkerChange, type WorkerRecord } from './workerRecord';

export type { ExitContext, MarkerLine, WorkerChange } from './workerRecord';

const MAX_UNSEEN_EXITS = 256;
/**
 * /proc gives a process's start to 10 ms, read against a clock of 10 ms: a worker that started less than this before
 * a reload began may have started after it (Gunicorn forks a reload's first new worker within a few ms of the call).
 */
const START_TIME_PRECISION_MS = 50;

export class WorkerTable {
  private readonly slots = new Map<number, WorkerRecord>();
  private readonly byPid = new Map<number, WorkerRecord>();
  /** An old generation's workers that a new one replaced, finishing their requests. */
  private readonly retiring = new Set<WorkerRecord>();
  /** A reload's new workers still booting, each with the old worker whose slot it takes when ready. */
  private readonly incoming = new Map<WorkerRecord, WorkerRecord>();
  /** The last reload's new workers that took a slot, with the worker they replaced (a slot goes back if the new one dies). */
  private readonly handedOver = new Map<WorkerRecord, WorkerRecord>();
  /** The current generation's workers that died before they were ready. */
  private failedNew = 0;
  /** The generation being replaced by a reload (or one worker being replaced): they hand their slots to the new ones. */
  private outgoing = new Set<WorkerRecord>();
  /** The outgoing worker whose slot the next new worker takes (the server said which one it replaces next). */
  private nextHandover: WorkerRecord | undefined;
  /** Exits the server will make by scaling down: their slots close instead of waiting for a replacement. */
  private pendingRemovals = 0;
  private generation: number;
  /** When the current reload began (ms since the epoch): a worker the server started before it runs the old code. */
  private reloadBeganAt = Number.NEGATIVE_INFINITY;
  private reloading = false;
  /** Pids whose exit the master reported before their hello came (Node may read the two connections in either order). */
  private readonly exitedUnseen = new Set<number>();

  /** `firstGeneration`: the generation of the run's first workers (a reload that restarts the server goes on counting). */
  constructor(private readonly firstGeneration = 1) {
    this.generation = firstGeneration;
  }

  /**
   * Records a new worker and gives it a slot; undefined when the pid is known already, or known to have exited.
   * `startedAt`: when its process started. One that started before the current reload began (the server replaced a
   * worker that died just then, before it took the reload's signal) runs the old code: it fills the dead slot, and a
   * new worker replaces it like the rest of the old generation.
   */
  add(pid: number, now: number, startedAt = now): WorkerChange | undefined {
    if (this.byPid.has(pid) || this.exitedUnseen.has(pid)) return undefined;
    const oldCode = this.reloading && startedAt < this.reloadBeganAt - START_TIME_PRECISION_MS;
    const replacing = oldCode ? undefined : this.nextOutgoing();
    if (replacing) return this.addIncoming(pid, now, replacing);
    const { slot, previous } = this.freeSlot();
    const worker = this.newRecord(slot, pid, now);
    if (oldCode) {
      worker.generation--;
      this.outgoing.add(worker);
    }
    const markers: MarkerLine[] = [];
    if (previous) {
      worker.previousPid = previous.pid;
      worker.restarts = previous.restarts + 1;
      worker.lastExit = previous.lastExit;
      markers.push({ slot, pid, line: `── worker ${slot} restarted: pid ${previous.pid} ${previous.lastExit?.text ?? 'exited'} → new pid ${pid}` });
    }
    this.slots.set(slot, worker);
    this.byPid.set(pid, worker);
    return { type: 'up', worker: toModel(worker), markers };
  }

  /** booting -> ready (a reload's new worker takes its slot now); undefined when it was not booting. */
  markReady(pid: number): WorkerChange | undefined {
    const worker = this.byPid.get(pid);
    if (worker?.state !== 'booting') return undefined;
    worker.state = 'ready';
    const replaced = this.incoming.get(worker);
    if (!replaced) return { type: 'ready', worker: toModel(worker), markers: [] };
    this.incoming.delete(worker);
    this.takeSlot(worker, replaced);
    const newGeneration = worker.generation !== replaced.generation ? ` (generation ${worker.generation})` : '';
    const line = `── worker ${worker.slot} ${replaced.handoverBecause ?? 'reloaded'}: pid ${replaced.pid} ${replaced.state === 'exited' ? 'exited' : 'retires'} → new pid ${pid}${newGeneration}`;
    return { type: 'ready', worker: toModel(worker), markers: [{ slot: worker.slot, pid, line }] };
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
    worker.insight = undefined;
    worker.pdb = undefined;
    const markers: MarkerLine[] = [];
    const replacing = this.incoming.get(worker);
    const successor = [...this.incoming].find(([, old]) => old === worker)?.[0];
    if (diedBooting && worker.generation === this.generation && this.generation > this.firstGeneration) this.failedNew++;
    if (replacing) {
      // A reload's new worker that never got to serve: the old one keeps its slot.
      this.incoming.delete(worker);
      const still = replacing.state === 'exited' ? '' : `; pid ${replacing.pid} keeps serving`;
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot}: the new pid ${pid} ${reason.text} before it was ready${still}` });
    } else if (this.handedOver.has(worker) && this.retiring.has(this.handedOver.get(worker)!) && this.slots.get(worker.slot) === worker) {
      // A new worker that took the slot died while its predecessor still runs (Uvicorn aborted the reload): the slot
      // goes back to the predecessor, which never stopped serving.
      const predecessor = this.handedOver.get(worker)!;
      this.retiring.delete(predecessor);
      predecessor.state = 'ready';
      this.slots.set(worker.slot, predecessor);
      if (this.reloading) this.outgoing.add(predecessor); // the server's next new worker replaces it again
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot}: the new pid ${pid} ${reason.text}; pid ${predecessor.pid} keeps serving` });
    } else if (this.retiring.delete(worker)) {
      // An old generation's worker finished: its slot already belongs to its successor.
      this.recordRecycledExit(worker);
      for (const [newer, older] of this.handedOver) if (older === worker) this.handedOver.delete(newer);
    } else if (this.outgoing.delete(worker)) {
      // Retired before its successor was ready: the successor, booting, holds the slot now; with none, the slot
      // closes and the next new worker takes the lowest free one.
      if (successor) {
        this.incoming.delete(successor);
        this.slots.set(worker.slot, successor);
        this.recordRecycledExit(worker);
      } else {
        this.slots.delete(worker.slot);
      }
    } else if (this.reloading && isGraceful(reason) && this.slots.get(worker.slot) === worker) {
      // Stopped by the server during a reload: one it started as the reload began (replacing a worker that died just
      // then) that it counts in the old generation. Its slot closes; a death would wait for its replacement.
      this.slots.delete(worker.slot);
    } else if (this.pendingRemovals > 0 && this.slots.get(worker.slot) === worker) {
      this.pendingRemovals--;
      this.slots.delete(worker.slot);
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot} (pid ${pid}) removed by scaling down` });
    } else if (diedBooting && context.guardedBoots && this.slots.get(worker.slot) === worker) {
      this.slots.delete(worker.slot);
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot} (pid ${pid}) ${reason.text} before it was ready; the server goes on without it (the boot guard)` });
    } else if (!context.replaced) {
      const consequence = context.stopsServer ? ': it stops every worker and itself when one dies' : '';
      markers.push({ slot: worker.slot, pid, line: `── worker ${worker.slot} (pid ${pid}) ${reason.text}; ${context.serverKind} does not replace it${consequence}` });
    }
    return { type: 'exit', worker: toModel(worker), markers, diedBooting };
  }

  /** A worker recycled by the server, successor first: its successor's slot shows why it went. */
  private recordRecycledExit(worker: WorkerRecord): void {
    const successor = this.slots.get(worker.slot);
    if (worker.recycledBecause && successor?.previousPid === worker.pid) successor.lastExit = worker.lastExit;
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

  /**
   * A reload begins: the live workers are the outgoing generation; the workers that come next take their slots.
   * `now`: when its signal goes (a worker whose process started before it runs the old code); unknown: none did.
   */
  beginReload(now = Number.NEGATIVE_INFINITY): void {
    this.reloading = true;
    this.reloadBeganAt = now;
    this.generation++;
    this.failedNew = 0;
    this.handedOver.clear();
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

  /** The reload is over (done or given up): the old workers not replaced keep their slots. */
  endReload(): void {
    this.reloading = false;
    this.outgoing.clear();
    this.nextHandover = undefined;
  }

  /**
   * The server is about to replace this live worker, its successor first (Granian hands a position over): the next new
   * worker boots beside it and takes its slot when ready. A worker a reload replaces already keeps that reason.
   */
  expectReplacement(pid: number, because: string): void {
    const worker = this.byPid.get(pid);
    if (!worker || worker.state === 'exited' || this.retiring.has(worker) || this.incoming.has(worker)) return;
    if (!this.outgoing.has(worker)) worker.handoverBecause = because;
    this.outgoing.add(worker);
    this.nextHandover = worker;
  }

  /**
   * Where the current reload stands: old workers not yet replaced, and the old generation still alive (those and the
   * retiring ones); the new generation's workers ready, booting, dead.
   */
  reloadProgress(): { outgoing: number; oldAlive: number; newReady: number; newBooting: number; newFailed: number } {
    let newReady = 0;
    let newBooting = 0;
    for (const worker of this.byPid.values()) {
      if (worker.generation !== this.generation) continue;
      if (worker.state === 'ready') newReady++;
      if (worker.state === 'booting') newBooting++;
    }
    return { outgoing: this.outgoing.size, oldAlive: this.outgoing.size + this.retiring.size, newReady, newBooting, newFailed: this.failedNew };
  }

  /** The generation the next workers belong to (the current reload's, during one). */
  get currentGeneration(): number {
    return this.generation;
  }

  /** The server was asked to stop one worker (scale down): the next exit closes its slot. */
  expectRemoval(): void {
    this.pendingRemovals++;
  }

  /** True when it changed. */
  setUsage(pid: number, cpuPercent: number, rssBytes: number): boolean {
    const worker = this.byPid.get(pid);
    if (!worker || (worker.cpuPercent === cpuPercent && worker.rssBytes === rssBytes)) return false;
    worker.cpuPercent = cpuPercent;
    worker.rssBytes = rssBytes;
    return true;
  }

  /** A live worker's latest request summary; false when the pid is not a live worker. */
  setInsight(pid: number, insight: WorkerInsight): boolean {
    const worker = this.byPid.get(pid);
    if (!worker) return false;
    worker.insight = insight;
    return true;
  }

  /** True when it changed. The mark goes with the worker, not its slot. */
  setDebugging(pid: number, debugging: boolean): boolean {
    const worker = this.byPid.get(pid);
    if (!worker || worker.debugging === debugging) return false;
    worker.debugging = debugging;
    return true;
  }

  /** Where the worker waits in pdb, or undefined; true when it changed. The mark goes with the worker, not its slot. */
  setPdb(pid: number, stop: PdbStop | undefined): boolean {
    const worker = this.byPid.get(pid);
    if (!worker || worker.pdb === stop) return false;
    worker.pdb = stop;
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
    this.incoming.clear();
  }

  /** A new run starts from nothing. */
  clear(): void {
    this.slots.clear();
    this.byPid.clear();
    this.retiring.clear();
    this.incoming.clear();
    this.handedOver.clear();
    this.outgoing.clear();
    this.nextHandover = undefined;
    this.pendingRemovals = 0;
    this.generation = this.firstGeneration;
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

  /** A live worker by pid (a reload's new worker still booting too). */
  workerOf(pid: number): WorkerModel | undefined {
    const worker = this.byPid.get(pid);
    return worker && toModel(worker);
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

  /** Exactly `count` slots, each with a ready worker (exited rows count as not ready). */
  readyCount(count: number): boolean {
    return this.slots.size === count && [...this.slots.values()].every((worker) => worker.state === 'ready');
  }

  /** The reload is over: the old generation has handed over every slot and finished its requests. */
  reloadSettled(): boolean {
    return this.outgoing.size === 0 && this.retiring.size === 0;
  }

  /** The rows of the model: slots in order, then the retiring workers, then a reload's new workers still booting. */
  snapshot(): { workers: WorkerModel[]; retiring: WorkerModel[]; incoming: WorkerModel[] } {
    return {
      workers: [...this.slots.values()].sort((a, b) => a.slot - b.slot).map(toModel),
      retiring: [...this.retiring].map(toModel),
      incoming: [...this.incoming.keys()].sort((a, b) => a.slot - b.slot).map(toModel),
    };
  }

  private newRecord(slot: number, pid: number, now: number): WorkerRecord {
    return { slot, pid, state: 'booting', startedAt: now, generation: this.generation, restarts: 0, cpuPercent: 0, rssBytes: 0, debugging: false };
  }

  /** The outgoing worker the server named next, else the old generation's (lowest slot first) that no new worker replaces yet. */
  private nextOutgoing(): WorkerRecord | undefined {
    const taken = new Set(this.incoming.values());
    const named = this.nextHandover;
    this.nextHandover = undefined;
    if (named && this.outgoing.has(named) && this.slots.get(named.slot) === named && !taken.has(named)) return named;
    // A dead slot first: a new worker that dies during a reload is replaced while the old generation still has slots
    // to hand over, and a replacement paired with one of those would leave the dead slot empty for good (the reload
    // never has its count of ready workers: the soak found it).
    if ([...this.slots.values()].some((w) => w.state === 'exited')) return undefined;
    return [...this.outgoing].filter((w) => this.slots.get(w.slot) === w && !taken.has(w)).sort((a, b) => a.slot - b.slot)[0];
  }

  /** A reload's (or a hand-over's) new worker boots beside the old one; it takes the slot when ready (markReady). */
  private addIncoming(pid: number, now: number, replacing: WorkerRecord): WorkerChange {
    const worker = this.newRecord(replacing.slot, pid, now);
    worker.previousPid = replacing.pid;
    worker.restarts = replacing.restarts;
    worker.lastExit = replacing.lastExit;
    this.incoming.set(worker, replacing);
    this.byPid.set(pid, worker);
    const why = replacing.handoverBecause ? ` (${replacing.handoverBecause})` : ` (generation ${worker.generation})`;
    const line = `── worker ${worker.slot}: new pid ${pid}${why} boots beside pid ${replacing.pid}`;
    return { type: 'up', worker: toModel(worker), markers: [{ slot: worker.slot, pid, line }] };
  }

  /** A reload's new worker is ready: it holds the slot, the old one retires (finishing its requests). */
  private takeSlot(worker: WorkerRecord, replaced: WorkerRecord): void {
    this.slots.set(worker.slot, worker);
    this.outgoing.delete(replaced);
    if (replaced.state !== 'exited') {
      replaced.state = 'stopping';
      this.retiring.add(replaced);
      this.handedOver.set(worker, replaced);
    }
  }

  /** A new worker takes the slot of a dead worker, else the lowest free one. */
  private freeSlot(): { slot: number; previous?: WorkerRecord } {
    const byLowestSlot = (a: WorkerRecord, b: WorkerRecord) => a.slot - b.slot;
    const dead = [...this.slots.values()].filter((w) => w.state === 'exited').sort(byLowestSlot);
    if (dead.length > 0) return { slot: dead[0].slot, previous: dead[0] };
    let slot = 1;
    while (this.slots.has(slot)) slot++;
    return { slot };
  }
}
