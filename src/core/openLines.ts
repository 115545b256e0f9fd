/**
 * A line without its newline (a prompt, a progress message, `print(..., end="")`) must be seen: when a stream has
 * been quiet for OPEN_LINE_QUIET_MS in the middle of a line, what it has of the line goes out as an open piece
 * (LineSplitter.flush) and the rest continues it when it comes.
 *
 * Cheap on the read path: a read notes the time in a map, no timer per line or per read. One timer for all the
 * streams that hold a partial line wakes at the earliest moment one of them can be due; a stream whose line ended
 * leaves the map on its next read.
 */

/**
 * Why 50 ms: a line written in pieces (unbuffered print() writes its text and its newline apart; a thread switch
 * can come between) arrives within a read or two, well under this; and 50 ms, the read beat (25 ms) and the
 * channel's batching (25 ms) keep a partial line on screen within about 100 ms of its last byte (target: 250 ms).
 */
export const OPEN_LINE_QUIET_MS = 50;

export interface OpenLineSource {
  /** Bytes of a line without its newline are waiting. */
  readonly hasPartial: boolean;
  /** Sends them out as an open piece. */
  flush(): void;
}

export class OpenLineFlusher {
  /** Sources holding a partial line, with the time of their last read. */
  private readonly waiting = new Map<OpenLineSource, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;

  constructor(private readonly quietMs = OPEN_LINE_QUIET_MS, private readonly now: () => number = Date.now) {}

  /** After each read of `source`. */
  afterRead(source: OpenLineSource): void {
    if (!source.hasPartial) {
      this.waiting.delete(source);
      return;
    }
    const at = this.now();
    this.waiting.set(source, at);
    this.arm(at + this.quietMs);
  }

  /** The source closed (its splitter's end() emits what it held). */
  forget(source: OpenLineSource): void {
    this.waiting.delete(source);
  }

  private arm(due: number): void {
    if (this.timer !== undefined && this.timerDue <= due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, due - this.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [source, lastRead] of this.waiting) {
      if (now - lastRead >= this.quietMs) {
        this.waiting.delete(source);
        if (source.hasPartial) source.flush();
      } else {
        next = Math.min(next, lastRead + this.quietMs);
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}
