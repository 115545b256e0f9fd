/**
 * What happened to a server over the last minutes, as a bounded log: its events (a worker's exit and why, a
 * replacement, a reload and how it ended, a scale, the server's start and stop) and the slowest requests its agents
 * reported. Each entry has a `seq`, so that a reader asks only for those after the last it saw. Pure: the caller gives
 * the times.
 */
import type { ServerState } from '../model';

export type HistoryEvent =
  /** A worker ended: `reason` as the model says it ("killed by SIGKILL", "WORKER TIMEOUT (GET /report, 31.0 s; ...)"). */
  | { kind: 'exit'; at: number; slot: number; pid: number; reason: string; timedOut: boolean }
  /** A new worker took the slot of one that died. */
  | { kind: 'replaced'; at: number; slot: number; pid: number; restarts: number }
  /** A reload began, served the new code, or failed (the previous code serves; where the new code broke). */
  | { kind: 'reload'; at: number; outcome: 'started' | 'reloaded' | 'failed'; generation: number; file?: string; line?: number; message?: string }
  | { kind: 'scale'; at: number; from: number; to: number }
  /** The server started serving, restarts, stopped or failed. */
  | { kind: 'state'; at: number; state: ServerState; error?: string };

export type Sequenced<T> = T & { seq: number };

/** A log of at most `limit` entries, none older than what `dropBefore` was last told. */
export class BoundedLog<T extends { at: number }> {
  private entries: Array<Sequenced<T>> = [];
  private nextSeq = 0;

  constructor(private readonly limit: number) {}

  get endSeq(): number {
    return this.nextSeq;
  }

  get size(): number {
    return this.entries.length;
  }

  add(entry: T): Sequenced<T> {
    const sequenced = Object.freeze({ ...entry, seq: this.nextSeq++ });
    this.entries.push(sequenced);
    // Dropping in halves keeps an add O(1) on average.
    if (this.entries.length > this.limit * 1.5) this.entries = this.entries.slice(this.entries.length - this.limit);
    return sequenced;
  }

  /** The entries from `fromSeq` on, oldest first (at most `limit`). */
  read(fromSeq = 0): Array<Sequenced<T>> {
    const kept = this.entries.length > this.limit ? this.entries.slice(this.entries.length - this.limit) : this.entries;
    const first = kept.findIndex((e) => e.seq >= fromSeq);
    return first === -1 ? [] : kept.slice(first);
  }

  dropBefore(time: number): void {
    const first = this.entries.findIndex((e) => e.at >= time);
    if (first !== 0) this.entries = first === -1 ? [] : this.entries.slice(first);
  }

  /** The wall clock stepped: every entry's time moves with it. */
  shiftTimes(deltaMs: number): void {
    this.entries = this.entries.map((e) => Object.freeze({ ...e, at: e.at + deltaMs }));
  }
}
