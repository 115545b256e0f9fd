/**
 * CPU and memory of the server's processes, from /proc once a tick; a worker that /proc no longer shows on two ticks in
 * a row is reported gone (its exit then is recorded with what is known, if nothing reported it).
 *
 * A CPU figure moves within CPU_BAND_POINTS of the one shown without being shown (for up to SHOWN_FOR_MS): an idle
 * worker's CPU time grows by the kernel's 10 ms ticks, so its share of a second reads 0 %, then 1 %, then 0 % (an idle
 * Uvicorn worker wakes ten times a second): 64 idle workers changed the model 26 times a second for that alone.
 */
import { UsageSampler } from '../process/procfs';

export interface Usage {
  cpuPercent: number;
  rssBytes: number;
}

/** A CPU figure this close to the one shown (percentage points of a core) is not a change to show. */
export const CPU_BAND_POINTS = 2;
/** A figure shown this long is replaced by the current one even within the band. */
export const SHOWN_FOR_MS = 30_000;

interface Shown {
  usage: Usage;
  at: number;
}

/** What to show of `sample`, given what is shown: the shown figures while the sample stays within the band. */
export function usageToShow(shown: Shown | undefined, sample: Usage, now: number): Shown {
  if (shown && sample.rssBytes === shown.usage.rssBytes && Math.abs(sample.cpuPercent - shown.usage.cpuPercent) < CPU_BAND_POINTS
    && now - shown.at < SHOWN_FOR_MS) return shown;
  return { usage: sample, at: now };
}

export class UsageWatch {
  private readonly sampler = new UsageSampler();
  private readonly missingOnce = new Set<number>();
  private readonly shown = new Map<number, Shown>();
  private masterShown: Shown | undefined;

  /** The master's usage, as shown. */
  master: Usage = { cpuPercent: 0, rssBytes: 0 };

  /** Samples the master; true when what is shown of it changed (kept as it was when /proc does not show it). */
  sampleMaster(pid: number, now: number): boolean {
    const sample = this.sampler.sample(pid, now);
    if (!sample) return false;
    this.masterShown = usageToShow(this.masterShown, sample, now);
    const usage = this.masterShown.usage;
    if (usage.cpuPercent === this.master.cpuPercent && usage.rssBytes === this.master.rssBytes) return false;
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
        const shown = usageToShow(this.shown.get(pid), sample, now);
        this.shown.set(pid, shown);
        usage.set(pid, shown.usage);
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
    for (const pid of this.shown.keys()) if (!keep.has(pid)) this.shown.delete(pid);
  }

  /** Nothing is watched any more (the run ended): its files are closed. */
  clear(): void {
    this.keep([]);
  }
}
