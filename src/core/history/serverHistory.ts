/**
 * The history of one server (docs/architecture.md, "History"): its workers' per-second figures for the last 15
 * minutes (FigureRing) and what happened (events, the slowest requests: BoundedLog), fed from the supervisor's model
 * and events. The dashboard, the metrics endpoint and the agent tools read it; none keeps its own.
 *
 * Half a second after each turn of the wall clock's second (when the agents' summaries of that second are in, see
 * docs/agent-protocol.md), one column is written from the latest figures of each worker: requests, 4xx and 5xx that
 * ended since the previous column (differences of the agent's counts, per pid: a worker replaced in the middle of a
 * second leaves its last point and its successor starts its own), the latency percentiles of that second, requests in
 * flight, CPU and memory. The tick runs while the server does.
 */
import { Emitter } from '../events';
import type { ServerModel, ServerState, WorkerInsight, WorkerModel } from '../model';
import type { ReloadEvent } from '../reload/reloadTypes';
import type { WorkerEvent } from '../serverEvents';
import { BoundedLog, type HistoryEvent } from './eventLog';
import type { SlowEntry } from './slowEntry';
import { FigureRing, type WorkerPoint } from './figureRing';

/** What the history listens to: the supervisor's model and events. */
export interface HistorySource {
  readonly onDidChange: Emitter<ServerModel>;
  readonly onWorker: Emitter<WorkerEvent>;
  readonly onReload: Emitter<ReloadEvent>;
}

/** Wall time, a monotonic time, and a timer (tests give their own). */
export interface HistoryClock {
  now(): number;
  monotonic(): number;
  schedule(run: () => void, delayMs: number): () => void;
}

export const systemClock: HistoryClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  schedule(run, delayMs) {
    const timer = setTimeout(run, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface HistoryOptions {
  /** Seconds kept (900: 15 minutes). */
  seconds?: number;
  clock?: HistoryClock;
}

/** A wall clock that moved more than this against the monotonic one stepped (NTP, a suspend, a person). */
const CLOCK_STEP_MS = 1500;
const TICK_OFFSET_MS = 500;
const IDLE_STATES: readonly ServerState[] = ['stopped', 'failed'];

/** What the history remembers of a worker between two columns. */
interface Tracked {
  slot: number;
  insight: WorkerInsight | undefined;
  /** The agent's counts when the previous column was written. */
  served: number;
  status4xx: number;
  status5xx: number;
  /** The summary whose interval the previous column used (its percentiles count once). */
  intervalUsed: object | undefined;
  cpuPercent: number;
  rssBytes: number;
  /** Still a process of the server in the latest model. */
  alive: boolean;
}

export class ServerHistory {
  readonly figures: FigureRing;
  readonly events = new BoundedLog<HistoryEvent>(2000);
  readonly slowest = new BoundedLog<SlowEntry>(1000);
  /** A second was written (after `figures` got its column). */
  readonly onSecond = new Emitter<void>();
  /** An event was logged. */
  readonly onEvent = new Emitter<HistoryEvent>();

  private readonly clock: HistoryClock;
  private readonly tracked = new Map<number, Tracked>();
  private readonly seenIntervals = new WeakSet<object>();
  private readonly unsubscribe: Array<() => void>;
  private cancelTick: (() => void) | undefined;
  private lastTick: { wall: number; monotonic: number } | undefined;
  private state: ServerState = 'stopped';
  private desiredWorkers: number | undefined;
  private readonly restartsBySlot = new Map<number, number>();

  constructor(source: HistorySource, options: HistoryOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.figures = new FigureRing({ seconds: options.seconds });
    // A supervisor makes its history before its first model: it starts stopped, and the first change says the rest.
    this.unsubscribe = [
      source.onDidChange.on((next) => this.modelChanged(next)),
      source.onWorker.on((event) => this.workerEvent(event)),
      source.onReload.on((event) => this.reloadEvent(event)),
    ];
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
    this.stopTicking();
    this.onSecond.clear();
    this.onEvent.clear();
  }

  // ---- from the supervisor ----------------------------------------------------------------------------------------

  private modelChanged(model: ServerModel): void {
    if (model.state !== this.state) this.stateChanged(this.state, model);
    if (model.desiredWorkers !== this.desiredWorkers) {
      if (this.desiredWorkers !== undefined && !IDLE_STATES.includes(this.state)) this.log({ kind: 'scale', at: this.clock.now(), from: this.desiredWorkers, to: model.desiredWorkers });
      this.desiredWorkers = model.desiredWorkers;
    }
    for (const tracked of this.tracked.values()) tracked.alive = false;
    for (const worker of [...model.workers, ...model.retiring]) this.track(worker);
  }

  private stateChanged(previous: ServerState, model: ServerModel): void {
    this.state = model.state;
    const at = this.clock.now();
    const serving = model.state === 'running' && (previous === 'starting' || previous === 'restarting');
    if (serving || model.state === 'restarting' || IDLE_STATES.includes(model.state)) {
      this.log({ kind: 'state', at, state: model.state, ...(model.error && model.state !== 'running' ? { error: model.error } : {}) });
    }
    if (IDLE_STATES.includes(model.state)) {
      this.writeColumn(); // the last second of the run
      this.stopTicking();
    } else if (!this.cancelTick) {
      this.lastTick = { wall: at, monotonic: this.clock.monotonic() };
      this.scheduleTick();
    }
  }

  private track(worker: WorkerModel): void {
    const known = this.tracked.get(worker.pid);
    const alive = worker.state !== 'exited';
    if (!known) {
      this.tracked.set(worker.pid, {
        slot: worker.slot, insight: worker.insight, served: 0, status4xx: 0, status5xx: 0, intervalUsed: undefined,
        cpuPercent: alive ? worker.cpuPercent : NaN, rssBytes: alive ? worker.rssBytes : NaN, alive,
      });
    } else {
      known.slot = worker.slot;
      known.insight = worker.insight ?? known.insight;
      known.cpuPercent = alive ? worker.cpuPercent : NaN;
      known.rssBytes = alive ? worker.rssBytes : NaN;
      known.alive = alive;
    }
    const interval = worker.insight?.interval;
    if (interval && !this.seenIntervals.has(interval)) {
      this.seenIntervals.add(interval);
      for (const slow of interval.slowest) {
        this.slowest.add({ at: slow.endedAt, slot: worker.slot, pid: worker.pid, method: slow.method, path: slow.path, status: slow.status, ms: slow.ms });
      }
    }
  }

  private workerEvent({ type, worker }: WorkerEvent): void {
    const at = this.clock.now();
    if (type === 'exit' && worker.lastExit && this.exitWorthAMarker(worker)) {
      this.log({ kind: 'exit', at, slot: worker.slot, pid: worker.pid, reason: worker.lastExit.text, timedOut: worker.lastExit.timedOut });
    }
    if (type === 'up' && worker.restarts > (this.restartsBySlot.get(worker.slot) ?? 0)) {
      this.log({ kind: 'replaced', at, slot: worker.slot, pid: worker.pid, restarts: worker.restarts });
    }
    if (type === 'up') this.restartsBySlot.set(worker.slot, worker.restarts);
  }

  /** Exits nobody asked for, and any unclean one (a stop's, a scale's, a reload's clean exits are their own event). */
  private exitWorthAMarker(worker: WorkerModel): boolean {
    if (this.state === 'running') return true;
    if (this.state === 'stopping' || this.state === 'restarting' || IDLE_STATES.includes(this.state)) return false;
    const { code, signal } = worker.lastExit!;
    return !(code === 0 || signal === 'SIGTERM' || signal === 'SIGQUIT' || signal === 'SIGINT');
  }

  private reloadEvent(event: ReloadEvent): void {
    const at = this.clock.now();
    if (event.type === 'started') this.log({ kind: 'reload', at, outcome: 'started', generation: event.generation });
    else if (event.type === 'reloaded') this.log({ kind: 'reload', at, outcome: 'reloaded', generation: event.generation });
    else {
      const { file, line, message } = event.failure;
      this.log({ kind: 'reload', at, outcome: 'failed', generation: event.serving.generation, message, ...(file ? { file } : {}), ...(line ? { line } : {}) });
    }
  }

  private log(event: HistoryEvent): void {
    this.events.add(event);
    this.onEvent.fire(event);
  }

  // ---- the tick ---------------------------------------------------------------------------------------------------

  private scheduleTick(): void {
    const now = this.clock.now();
    const delay = (((TICK_OFFSET_MS - now) % 1000) + 1000) % 1000 || 1000;
    this.cancelTick = this.clock.schedule(() => {
      this.cancelTick = undefined;
      this.writeColumn();
      if (!IDLE_STATES.includes(this.state)) this.scheduleTick();
    }, delay);
  }

  private stopTicking(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
  }

  /** One column from what is known of each worker now; a wall clock that stepped moves the past with it. */
  private writeColumn(): void {
    const wall = this.clock.now();
    const monotonic = this.clock.monotonic();
    const last = this.lastTick ?? { wall: wall - 1000, monotonic: monotonic - 1000 };
    const elapsed = Math.max(1, monotonic - last.monotonic);
    const step = wall - (last.wall + elapsed);
    if (Math.abs(step) > CLOCK_STEP_MS) this.shiftTimes(step);
    this.lastTick = { wall, monotonic };
    const points: WorkerPoint[] = [];
    for (const [pid, tracked] of this.tracked) {
      const point = this.pointOf(pid, tracked);
      if (point) points.push(point);
      if (!tracked.alive) this.tracked.delete(pid);
    }
    this.figures.append(Math.floor(wall / 1000) * 1000, Math.min(elapsed, 60000), points);
    const oldest = wall - this.figures.seconds * 1000;
    this.events.dropBefore(oldest);
    this.slowest.dropBefore(oldest);
    this.onSecond.fire();
  }

  /** The worker's second: its counts since the previous column. A gone worker has one only if it served meanwhile. */
  private pointOf(pid: number, tracked: Tracked): WorkerPoint | undefined {
    const insight = tracked.insight;
    const served = insight?.served ?? tracked.served;
    const status4xx = insight?.statuses['4xx'] ?? tracked.status4xx;
    const status5xx = insight?.statuses['5xx'] ?? tracked.status5xx;
    const requests = served - tracked.served;
    if (!tracked.alive && requests === 0) return undefined;
    const interval = insight?.interval;
    const fresh = interval !== undefined && interval !== tracked.intervalUsed && interval.count > 0;
    const point: WorkerPoint = {
      pid,
      slot: tracked.slot,
      requests: insight ? requests : NaN,
      status4xx: insight ? status4xx - tracked.status4xx : NaN,
      status5xx: insight ? status5xx - tracked.status5xx : NaN,
      p50Ms: fresh ? interval.p50Ms ?? NaN : NaN,
      p99Ms: fresh ? interval.p99Ms ?? NaN : NaN,
      inFlight: insight && tracked.alive ? insight.inFlight : insight ? 0 : NaN,
      cpuPercent: tracked.cpuPercent,
      rssBytes: tracked.rssBytes,
    };
    Object.assign(tracked, { served, status4xx, status5xx, intervalUsed: interval });
    return point;
  }

  private shiftTimes(deltaMs: number): void {
    this.figures.shiftTimes(deltaMs);
    this.events.shiftTimes(deltaMs);
    this.slowest.shiftTimes(deltaMs);
  }
}
