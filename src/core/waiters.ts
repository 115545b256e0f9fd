/** Operations that settle when the server's state makes a condition true (checked at every change), or time out. */
import { ServerError } from './errors';

interface Waiter {
  done: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Waiters {
  private readonly waiting = new Set<Waiter>();

  /** `paused()`: a person holds the server (a process waits in pdb): a timeout that comes meanwhile starts again. */
  constructor(private readonly serverName: () => string, private readonly paused: () => boolean = () => false) {}

  /** Settles when `done()` is true, checked now and at each `check()`; rejects after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const expire = () => {
        if (this.paused()) {
          waiter.timer = setTimeout(expire, timeoutMs);
          return;
        }
        this.waiting.delete(waiter);
        reject(new ServerError(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (server "${this.serverName()}").`, 'timeout'));
      };
      const waiter: Waiter = { done, resolve, reject, timer: setTimeout(expire, timeoutMs) };
      this.waiting.add(waiter);
    });
  }

  /** The state changed: settle the waiters it satisfies. */
  check(): void {
    for (const waiter of [...this.waiting]) {
      if (waiter.done()) this.settle(waiter).resolve();
    }
  }

  rejectAll(error: Error): void {
    for (const waiter of [...this.waiting]) this.settle(waiter).reject(error);
  }

  get size(): number {
    return this.waiting.size;
  }

  private settle(waiter: Waiter): Waiter {
    this.waiting.delete(waiter);
    clearTimeout(waiter.timer);
    return waiter;
  }
}
