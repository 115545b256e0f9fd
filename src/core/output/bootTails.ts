/**
 * The last lines of the master and of booting workers: a failed start or a dead master is reported with them (the
 * traceback of a worker that failed to import the app is in the worker's output, not the master's). What is kept is
 * bounded in lines and in characters, however much a process prints (a worker that prints 50 MB at import keeps a
 * few KiB here).
 */
// A Gunicorn worker's traceback through the agent's wrappers is about 45 lines: room for it and what came before.
const TAIL_LINES = 100;
const TAIL_CHARS = 64 * 1024;
/** A longer line keeps its start (where an exception's type and message are) and says it was cut. */
const LINE_CHARS = 4096;

/** The newest lines of a stream, at most `maxLines` and about `maxChars` characters. */
export class RecentLines {
  private readonly kept: string[] = [];
  private chars = 0;

  constructor(private readonly maxLines: number, private readonly maxChars: number, private readonly maxLineChars = LINE_CHARS) {}

  push(lines: readonly string[]): void {
    for (const line of lines.length > this.maxLines ? lines.slice(-this.maxLines) : lines) {
      const kept = line.length > this.maxLineChars ? copied(`${line.slice(0, this.maxLineChars)}… (${line.length} characters)`) : line;
      this.kept.push(kept);
      this.chars += kept.length;
    }
    let drop = 0;
    while (this.kept.length - drop > this.maxLines || (this.chars > this.maxChars && this.kept.length - drop > 1)) this.chars -= this.kept[drop++].length;
    if (drop > 0) this.kept.splice(0, drop);
  }

  lines(): readonly string[] {
    return this.kept;
  }

  clear(): void {
    this.kept.length = 0;
    this.chars = 0;
  }
}

/** A string of its own: a slice of a long line would keep all of it alive (V8's sliced strings). */
function copied(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

export class BootTails {
  private readonly master = new RecentLines(TAIL_LINES, TAIL_CHARS);
  private readonly workers = new RecentLines(TAIL_LINES, TAIL_CHARS);

  masterLine(line: string): void {
    this.master.push([line]);
  }

  bootingWorkerLines(lines: string[]): void {
    this.workers.push(lines);
  }

  /**
   * Gunicorn logs "Reason: …" when it halts (27.x can crash while halting and leave only the HaltServer repr); Granian
   * "Worker crash loop detected, exiting" when a worker died again within seconds of its respawn.
   */
  masterReason(): string | undefined {
    return this.master.lines()
      .map((l) => /Reason: (.+)$|HaltServer '([^']+)'|(Worker crash loop detected)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => m[1] ?? m[2] ?? `${m[3]}: a worker died again within seconds of its respawn`)
      .pop();
  }

  /** A failure said for people: the summary, a worker's traceback (or its last lines), the master's last lines. */
  report(summary: string): string {
    const workers = this.workers.lines();
    const traceback = workers.lastIndexOf('Traceback (most recent call last):');
    const workerLines = (traceback >= 0 ? workers.slice(traceback) : workers.filter((l) => l.trim() !== '').slice(-6)).join('\n');
    const masterLines = this.master.lines().filter((l) => l.trim() !== '').slice(-8).join('\n');
    return summary
      + (workerLines ? `\nA worker's last output:\n${workerLines}` : '')
      + (masterLines ? `\nThe master's last output:\n${masterLines}` : '');
  }

  clear(): void {
    this.master.clear();
    this.workers.clear();
  }
}
