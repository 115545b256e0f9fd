/**
 * When a server that failed is started again, and when Server Workers stops trying: a master that dies while serving
 * is restarted after a backoff that doubles (1 s, 2 s, 4 s...) up to the definition's maximum in a row; workers that
 * die before they are ready, again and again, stop the retries (Uvicorn 0.54 respawns an app that fails to import
 * forever).
 */
import type { ResolvedDefinition } from './definition';

/** First wait of the restart policy; it doubles with each restart in a row. */
const RESTART_BACKOFF_MS = 1000;
/** A server that has run this long counts as steady: the restart count starts over. */
const STEADY_RUN_MS = 60000;
const BOOT_FAILURE_WINDOW_MS = 60000;
/** Boot failures within the window that stop the retries of a running server. */
const BOOT_FAILURE_LIMIT = 5;

export class RestartPolicy {
  /** Restarts since the server last ran steadily. */
  private restarts = 0;
  private runningSince = 0;
  private bootFailures: number[] = [];

  /** The user started or restarted the server: the count starts over. */
  userStarted(): void {
    this.restarts = 0;
  }

  running(now: number): void {
    this.runningSince = now;
  }

  /** A running server that has run steadily is given its full count of restarts again. */
  tick(now: number, running: boolean): void {
    if (running && now - this.runningSince > STEADY_RUN_MS) this.restarts = 0;
  }

  /** The master died while serving: the restart to make (after `inMs`, the `attempt`-th in a row), or none. */
  nextRestart(def: ResolvedDefinition): { inMs: number; attempt: number } | undefined {
    if (def.restart !== 'on-failure' || this.restarts >= def.restartMax) return undefined;
    this.restarts++;
    return { inMs: RESTART_BACKOFF_MS * 2 ** (this.restarts - 1), attempt: this.restarts };
  }

  /** A worker died before it was ready: the count within the window, and whether to stop the retries. */
  bootFailed(now: number, limitWhileStarting: number | undefined): { count: number; giveUp: boolean } {
    this.bootFailures = this.bootFailures.filter((at) => now - at < BOOT_FAILURE_WINDOW_MS);
    this.bootFailures.push(now);
    const limit = limitWhileStarting ?? BOOT_FAILURE_LIMIT;
    return { count: this.bootFailures.length, giveUp: this.bootFailures.length >= limit };
  }

  /** A new run: no boot failure counts yet. */
  newRun(): void {
    this.bootFailures = [];
  }
}
