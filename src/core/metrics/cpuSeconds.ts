/**
 * Each worker's CPU time for a scrape, from /proc/<pid>/stat, read through a descriptor kept open while the pid is
 * scraped: one read per worker instead of an open, a read and a close (a scrape of 64 workers spent most of its time
 * there). The descriptor names its process: once that process is gone the read fails, and a later process with the
 * same pid gets a descriptor of its own.
 */
import * as fs from 'node:fs';
import { CLOCK_TICKS_PER_SECOND } from '../process/procfs';

export class CpuSecondsReader {
  private readonly descriptors = new Map<number, number>();
  private readonly buffer = Buffer.alloc(1024);

  /** User + system CPU seconds of `pid`, or undefined when /proc does not show it. */
  read(pid: number): number | undefined {
    let fd = this.descriptors.get(pid);
    if (fd === undefined) {
      try {
        fd = fs.openSync(`/proc/${pid}/stat`, 'r');
      } catch {
        return undefined;
      }
      this.descriptors.set(pid, fd);
    }
    let length: number;
    try {
      length = fs.readSync(fd, this.buffer, 0, this.buffer.length, 0);
    } catch {
      this.forget(pid);
      return undefined;
    }
    const text = this.buffer.toString('latin1', 0, length);
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ', 14);
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  /** Closes the descriptors of the pids not in `pids` (the workers gone since the last scrape). */
  keep(pids: ReadonlySet<number>): void {
    for (const pid of [...this.descriptors.keys()]) if (!pids.has(pid)) this.forget(pid);
  }

  close(): void {
    this.keep(new Set());
  }

  private forget(pid: number): void {
    const fd = this.descriptors.get(pid);
    this.descriptors.delete(pid);
    if (fd !== undefined) fs.closeSync(fd);
  }
}
