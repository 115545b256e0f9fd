/**
 * CPU and memory of the server's processes, from /proc once a tick; a worker that /proc no longer shows on two ticks in
 * a row is reported gone (its exit then is recorded with what is known, if nothing reported it).
 */
import { UsageSampler } from '../process/procfs';

export interface Usage {
  cpuPercent: number;
  rssBytes: number;
}

export class UsageWatch {
  private readonly sampler = new UsageSampler();
  private readonly missingOnce = new Set<number>();

  /** The master's usage, as last sampled. */
  master: Usage = { cpuPercent: 0, rssBytes: 0 };

  /** Samples the master; true when its figures changed (kept as they were when /proc does not show it). */
  sampleMaster(pid: number, now: number): boolean {
    const usage = this.sampler.sample(pid, now);
    if (!usage || (usage.cpuPercent === this.master.cpuPercent && usage.rssBytes === this.master.rssBytes)) return false;
    this.master = usage;
    return true;
  }

  /** The usage of each pid /proc shows, and the pids it has not shown twice in a row. */
  sample(pids: readonly number[], now: number): { usage: Map<number, Usage>; gone: number[] } {
    const usage = new Map<number, Usage>();
    const gone: number[] = [];
    for (const pid of pids) {
      const sample = this.sampler.sample(pid, now);
      if (sample) {
        usage.set(pid, sample);
        this.missingOnce.delete(pid);
      } else if (this.missingOnce.has(pid)) {
        gone.push(pid);
      } else {
        this.missingOnce.add(pid);
      }
    }
    return { usage, gone };
  }

  /** Only these pids are still watched. */
  keep(pids: Iterable<number>): void {
    this.sampler.forget(pids);
    const keep = new Set(pids);
    for (const pid of this.missingOnce) if (!keep.has(pid)) this.missingOnce.delete(pid);
  }

  /** Nothing is watched any more (the run ended): its files are closed. */
  clear(): void {
    this.keep([]);
  }
}
