/**
 * The last lines of the master and of booting workers: a failed start or a dead master is reported with them (the
 * traceback of a worker that failed to import the app is in the worker's output, not the master's).
 */
const TAIL_LINES = 40;

export class BootTails {
  private readonly master: string[] = [];
  private readonly workers: string[] = [];

  masterLine(line: string): void {
    push(this.master, [line]);
  }

  bootingWorkerLines(lines: string[]): void {
    push(this.workers, lines);
  }

  /**
   * Gunicorn logs "Reason: …" when it halts (27.x can crash while halting and leave only the HaltServer repr); Granian
   * "Worker crash loop detected, exiting" when a worker died again within seconds of its respawn.
   */
  masterReason(): string | undefined {
    return this.master
      .map((l) => /Reason: (.+)$|HaltServer '([^']+)'|(Worker crash loop detected)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => m[1] ?? m[2] ?? `${m[3]}: a worker died again within seconds of its respawn`)
      .pop();
  }

  /** A failure said for people: the summary, a worker's traceback (or its last lines), the master's last lines. */
  report(summary: string): string {
    const traceback = this.workers.lastIndexOf('Traceback (most recent call last):');
    const workerLines = (traceback >= 0 ? this.workers.slice(traceback) : this.workers.filter((l) => l.trim() !== '').slice(-6)).join('\n');
    const masterLines = this.master.filter((l) => l.trim() !== '').slice(-8).join('\n');
    return summary
      + (workerLines ? `\nA worker's last output:\n${workerLines}` : '')
      + (masterLines ? `\nThe master's last output:\n${masterLines}` : '');
  }

  clear(): void {
    this.master.length = 0;
    this.workers.length = 0;
  }
}

function push(tail: string[], lines: string[]): void {
  tail.push(...lines);
  if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
}
