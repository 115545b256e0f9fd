/**
 * The per-second figures of a server's workers over the last minutes, in a bounded ring of typed arrays: one column per
 * second (its wall time and length) and one point per worker in it (pid, slot, and the figures). No object per point is
 * kept: 64 workers x 15 minutes are about 2 MB. The oldest seconds go when the ring is full, of seconds or of points.
 * Pure: the caller gives the times.
 */

/** What a worker did in one second; NaN where a figure is not known (request insight off, a process gone). */
export interface WorkerPoint {
  pid: number;
  slot: number;
  /** Requests that ended in the second. */
  requests: number;
  status4xx: number;
  status5xx: number;
  /** Latency percentiles of the requests that ended in the second (NaN when none did). */
  p50Ms: number;
  p99Ms: number;
  /** Requests in flight at the end of the second. */
  inFlight: number;
  cpuPercent: number;
  rssBytes: number;
}

export const FIGURES = ['requests', 'status4xx', 'status5xx', 'p50Ms', 'p99Ms', 'inFlight', 'cpuPercent', 'rssBytes'] as const;
export type Figure = (typeof FIGURES)[number];

/** One second of the ring. `seq` counts the seconds ever appended: a reader asks for those after the last it saw. */
export interface HistoryColumn {
  seq: number;
  /** ms since the epoch at the end of the second */
  time: number;
  /** How long the second really was (a late tick makes it longer), ms. */
  durationMs: number;
  points: WorkerPoint[];
}

export interface FigureRingOptions {
  /** Seconds kept (15 minutes by default). */
  seconds?: number;
  /** Points a second may hold on average over the ring before the oldest seconds go (64 workers, and a reload's). */
  pointsPerSecond?: number;
}

const INITIAL_POINTS = 1024;

export class FigureRing {
  readonly seconds: number;
  private readonly maxPoints: number;
  // the columns: index = seq % seconds
  private readonly times: Float64Array;
  private readonly durations: Float32Array;
  private readonly firstPoint: Float64Array; // absolute point number (never wraps in practice: 2^53)
  private readonly pointCounts: Uint16Array;
  private nextSeq = 0;
  private oldestSeq = 0;
  // the points: index = absolute point number % capacity
  private capacity = 0;
  private pids = new Int32Array(0);
  private slots = new Uint16Array(0);
  private figures: Float32Array[] = FIGURES.map(() => new Float32Array(0));
  private nextPoint = 0;

  constructor(options: FigureRingOptions = {}) {
    this.seconds = options.seconds ?? 900;
    this.maxPoints = this.seconds * (options.pointsPerSecond ?? 96);
    this.times = new Float64Array(this.seconds);
    this.durations = new Float32Array(this.seconds);
    this.firstPoint = new Float64Array(this.seconds);
    this.pointCounts = new Uint16Array(this.seconds);
  }

  /** Seconds held now. */
  get size(): number {
    return this.nextSeq - this.oldestSeq;
  }

  /** The seq the next second will have (one more than the newest's). */
  get endSeq(): number {
    return this.nextSeq;
  }

  get startSeq(): number {
    return this.oldestSeq;
  }

  /** Appends one second: its end (wall time, ms), its length, and one point per worker. */
  append(time: number, durationMs: number, points: readonly WorkerPoint[]): number {
    const count = Math.min(points.length, this.maxPoints, 0xffff);
    if (this.size === this.seconds) this.dropOldest();
    this.makeRoom(count);
    const seq = this.nextSeq++;
    const column = seq % this.seconds;
    this.times[column] = time;
    this.durations[column] = durationMs;
    this.firstPoint[column] = this.nextPoint;
    this.pointCounts[column] = count;
    for (let i = 0; i < count; i++) {
      const at = this.nextPoint++ % this.capacity;
      const point = points[i];
      this.pids[at] = point.pid;
      this.slots[at] = point.slot;
      for (let f = 0; f < FIGURES.length; f++) this.figures[f][at] = point[FIGURES[f]];
    }
    return seq;
  }

  /** The seconds from `fromSeq` on (those still held), oldest first. */
  read(fromSeq = this.oldestSeq): HistoryColumn[] {
    const columns: HistoryColumn[] = [];
    for (let seq = Math.max(fromSeq, this.oldestSeq); seq < this.nextSeq; seq++) columns.push(this.column(seq));
    return columns;
  }

  /** The newest second, if any. */
  newest(): HistoryColumn | undefined {
    return this.size === 0 ? undefined : this.column(this.nextSeq - 1);
  }

  /** The wall clock stepped: every time held moves by `deltaMs`, so that the seconds stay in order and end now. */
  shiftTimes(deltaMs: number): void {
    for (let seq = this.oldestSeq; seq < this.nextSeq; seq++) this.times[seq % this.seconds] += deltaMs;
  }

  /** Drops the seconds that ended before `time`. */
  dropBefore(time: number): void {
    while (this.size > 0 && this.times[this.oldestSeq % this.seconds] < time) this.dropOldest();
  }

  /** The bytes its arrays take. */
  bytes(): number {
    const columns = this.times.byteLength + this.durations.byteLength + this.firstPoint.byteLength + this.pointCounts.byteLength;
    return columns + this.pids.byteLength + this.slots.byteLength + this.figures.reduce((sum, f) => sum + f.byteLength, 0);
  }

  private column(seq: number): HistoryColumn {
    const column = seq % this.seconds;
    const first = this.firstPoint[column];
    const points: WorkerPoint[] = [];
    for (let n = 0; n < this.pointCounts[column]; n++) {
      const at = (first + n) % this.capacity;
      const point = { pid: this.pids[at], slot: this.slots[at] } as WorkerPoint;
      for (let f = 0; f < FIGURES.length; f++) point[FIGURES[f]] = this.figures[f][at];
      points.push(point);
    }
    return { seq, time: this.times[column], durationMs: this.durations[column], points };
  }

  private dropOldest(): void {
    this.oldestSeq++;
  }

  /** The points of the oldest second still held: its first, and where the free space begins. */
  private livePoints(): number {
    return this.size === 0 ? 0 : this.nextPoint - this.firstPoint[this.oldestSeq % this.seconds];
  }

  /** Room for `count` more points: the arrays grow (to the ring's limit), else the oldest seconds go. */
  private makeRoom(count: number): void {
    while (this.livePoints() + count > this.capacity) {
      if (this.capacity < this.maxPoints) this.grow(Math.min(this.maxPoints, Math.max(INITIAL_POINTS, this.capacity * 2, this.livePoints() + count)));
      else this.dropOldest();
    }
  }

  private grow(capacity: number): void {
    const pids = new Int32Array(capacity);
    const slots = new Uint16Array(capacity);
    const figures = FIGURES.map(() => new Float32Array(capacity));
    for (let n = this.nextPoint - this.livePoints(); n < this.nextPoint; n++) {
      const from = n % this.capacity;
      const to = n % capacity;
      pids[to] = this.pids[from];
      slots[to] = this.slots[from];
      for (let f = 0; f < FIGURES.length; f++) figures[f][to] = this.figures[f][from];
    }
    this.pids = pids;
    this.slots = slots;
    this.figures = figures;
    this.capacity = capacity;
  }
}
