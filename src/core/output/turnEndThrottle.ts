/**
 * Runs an action at most about once per interval, always at the end of a turn of the event loop (setImmediate), also
 * when a timer is what made it due. Whatever else that turn does (reads that other timers started, say) comes before
 * it. A run due within a fifth of the interval runs at this turn's end: a read beat (25 ms from the rest that the
 * previous beat's turn began with) finds the previous flush a moment short of due, and a timer for that moment was a
 * second wake-up of the process per beat.
 */
export class TurnEndThrottle {
  private cancel: (() => void) | undefined;
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs: number, private readonly action: () => void, private readonly slackMs = intervalMs / 5) {}

  /** The action runs at the end of this turn, or of the turn in which the interval since the last run is (nearly) over. */
  request(): void {
    if (this.cancel) return;
    let immediate: NodeJS.Immediate | undefined;
    const atTurnEnd = () => (immediate = setImmediate(() => this.runNow()));
    const wait = this.last + this.intervalMs - Date.now();
    const timer = wait > this.slackMs ? setTimeout(atTurnEnd, wait) : (atTurnEnd(), undefined);
    this.cancel = () => {
      clearTimeout(timer);
      clearImmediate(immediate);
    };
  }

  /** Runs the action now, in place of a requested run. */
  runNow(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.last = Date.now();
    this.action();
  }
}
