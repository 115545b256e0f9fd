/**
 * The lines of one server: a bounded tail per stream (slot 0 the master, 1..N the workers), every line numbered in one
 * sequence across the streams, kept once. The output channels show these tails; the agent tools read them by
 * sequence number (a cursor), so a reader that polls sees each line once and learns how many it lost to a trim.
 */
import { LineTail, type StoredLine } from '../output/lineTail';
import { separateLines } from '../output/separateLines';
import type { OutputEvent } from '../serverEvents';

/**
 * A stream holds at most HISTORY_LINES_MAX lines, so a log flood cannot exhaust memory: past it, the oldest are
 * dropped down to HISTORY_LINES_KEPT. Each trim makes a channel resend the kept lines: kept = a quarter of the
 * maximum resends a third of a flood's volume (with half, all of it, and the flood's memory growth was +42 to +62 MB
 * instead of +35 to +42: npm run bench).
 */
export const HISTORY_LINES_MAX = 40000;
export const HISTORY_LINES_KEPT = 10000;

export type HistoryLine = StoredLine;

export interface LostLines {
  /** Lines after the cursor that are no longer kept. */
  count: number;
  /** False: at least `count` (a stream forgot the numbers of lines dropped long ago). */
  exact: boolean;
}

export class LineHistory {
  private readonly tails = new Map<number, LineTail>();
  /** Per slot, the stream (pid and pipe) whose line the tail's open last line is: only its continuation joins it. */
  private readonly openStreams = new Map<number, string>();
  private seq = 0;

  /** `output`: the supervisor's output events, recorded as they come. */
  constructor(
    output?: { on(listener: (event: OutputEvent) => void): unknown },
    readonly keep = HISTORY_LINES_KEPT,
    readonly max = HISTORY_LINES_MAX,
  ) {
    output?.on((event) => this.record(event));
  }

  /** The seq of the newest line (0: none yet). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * A line without its newline is kept at once; its rest continues the same line. When the stream's tail has moved
   * on (another stream wrote meanwhile), the rest starts a line of its own, marked as a continuation.
   */
  record(event: OutputEvent, now = Date.now()): void {
    const tail = this.stream(event.slot, true);
    let lines = event.lines;
    let join = false;
    if (event.continues || event.partial) {
      const stream = `${event.pid}/${event.stream ?? ''}`;
      if (event.continues) {
        join = tail.endsOpen && this.openStreams.get(event.slot) === stream;
        if (!join) lines = separateLines(event);
      }
      if (event.partial) this.openStreams.set(event.slot, stream);
    }
    this.seq += tail.push(lines, join, event.partial === true, { seq: this.seq + 1, pid: event.pid, time: now, marker: event.marker === true });
  }

  /** The tail of a slot's stream (made when `create`). */
  stream(slot: number): LineTail | undefined;
  stream(slot: number, create: true): LineTail;
  stream(slot: number, create = false): LineTail | undefined {
    let tail = this.tails.get(slot);
    if (!tail && create) {
      tail = new LineTail(this.keep, this.max, slot);
      this.tails.set(slot, tail);
    }
    return tail;
  }

  /** The slots that have written lines, ascending. */
  slots(): number[] {
    return [...this.tails.keys()].sort((a, b) => a - b);
  }

  /**
   * Kept lines with a seq above `since`, oldest first, at most `limit`, of `slots` (all when none): with `since`
   * undefined, the newest `limit`. Each line's text is cut to `maxBytes`; with `budgetBytes`, the reading stops once
   * the texts read add up to it.
   */
  read(options: { slots?: readonly number[]; since?: number; limit: number; maxBytes?: number; budgetBytes?: number }): HistoryLine[] {
    const { limit, maxBytes, budgetBytes = Number.MAX_SAFE_INTEGER } = options;
    const newest = options.since === undefined;
    const ranges = (options.slots ?? this.slots()).flatMap((slot) => {
      const tail = this.tails.get(slot);
      if (!tail) return [];
      const from = newest ? Math.max(tail.dropped, tail.total - limit) : tail.numberAfter(options.since!);
      const to = newest ? tail.total : Math.min(tail.total, from + limit);
      return from < to ? [new RangeReader(tail, from, to, newest, maxBytes)] : [];
    });
    // Merge by seq: each step takes the oldest next line of the streams (the newest, reading the tail backwards).
    const picked: HistoryLine[] = [];
    let bytes = 0;
    while (picked.length < limit && ranges.length > 0 && bytes < budgetBytes) {
      let best = 0;
      for (let i = 1; i < ranges.length; i++) if (newest ? ranges[i].next > ranges[best].next : ranges[i].next < ranges[best].next) best = i;
      const line = ranges[best].take();
      picked.push(line);
      bytes += line.textBytes;
      if (ranges[best].done) ranges.splice(best, 1);
    }
    return newest ? picked.reverse() : picked;
  }

  /** Lines with a seq above `since` that are no longer kept, of `slots` (all when none). */
  lostAfter(since: number, slots: readonly number[] = this.slots()): LostLines {
    let count = 0;
    let exact = true;
    for (const slot of slots) {
      const lost = this.tails.get(slot)?.droppedAfter(since) ?? { count: 0, exact: true };
      count += lost.count;
      exact &&= lost.exact;
    }
    return { count, exact };
  }
}

/**
 * One stream's lines `from` to `to`, taken one at a time (forwards, or backwards from `to`), read in blocks that
 * double from 16 to 1,024 lines: a merge that takes few lines of a stream reads few more.
 */
class RangeReader {
  private blockSize = 16;
  private block: HistoryLine[] = [];
  private at = 0;
  /** The seq of the line `take` gives next. */
  next = 0;
  done = false;

  constructor(private readonly tail: LineTail, private from: number, private to: number, private readonly backwards: boolean, private readonly maxBytes?: number) {
    this.fill();
  }

  take(): HistoryLine {
    const line = this.block[this.at++];
    if (this.at === this.block.length) this.fill();
    else this.next = this.block[this.at].seq;
    return line;
  }

  private fill(): void {
    if (this.from >= this.to) {
      this.done = true;
      return;
    }
    const size = this.blockSize;
    this.blockSize = Math.min(1024, size * 2);
    if (this.backwards) {
      const start = Math.max(this.from, this.to - size);
      this.block = this.tail.read(start, this.to, this.maxBytes).reverse();
      this.to = start;
    } else {
      const end = Math.min(this.to, this.from + size);
      this.block = this.tail.read(this.from, end, this.maxBytes);
      this.from = end;
    }
    this.at = 0;
    this.next = this.block[0].seq;
  }
}
