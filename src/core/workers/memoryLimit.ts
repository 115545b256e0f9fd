/**
 * The per-worker memory limit (maxMemoryMb): a ready worker over it is recycled gracefully, and its exit reason and a
 * marker line in its stream say why. A server that recycles by itself (Granian) is left to it; the run only announces it.
 */
import type { Emitter } from '../events';
import type { ServerState } from '../model';
import { readProcStat } from '../process/procfs';
import type { OutputEvent } from '../serverEvents';
import type { WorkerTable } from './workerTable';

const MIB = 1024 * 1024;

export class MemoryLimit {
  /** `serverRecycles`: the server enforces the limit itself (Capabilities.recyclesOverMemoryLimit). */
  constructor(
    private readonly limitMb: number | undefined,
    private readonly serverRecycles: boolean,
    private readonly table: WorkerTable,
    private readonly output: Emitter<OutputEvent>,
  ) {}

  /**
   * A ready worker over the memory limit is recycled gracefully (true): SIGTERM, it finishes its requests, the server
   * replaces it. A server that recycles by itself (Granian) is left to it (successor first).
   */
  enforce(pid: number, rssBytes: number, serverState: ServerState): boolean {
    const limitMb = this.limitMb;
    if (limitMb === undefined || this.serverRecycles) return false;
    if (this.table.stateOf(pid) !== 'ready' || this.table.isRecycled(pid) || serverState !== 'running') return false;
    if (rssBytes / MIB <= limitMb) return false;
    this.announceRecycling(pid, '', rssBytes);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    return true;
  }

  /** The worker's exit reason and a marker line in its stream say it goes for using too much memory. */
  announceRecycling(pid: number, how: string, rssBytes = readProcStat(pid)?.rssBytes ?? 0): void {
    const limitMb = this.limitMb!;
    const usedMb = Math.round(rssBytes / MIB);
    const slot = this.table.slotOf(pid)!;
    this.table.markRecycled(pid, `recycled: it used ${usedMb} MiB, over the ${limitMb} MiB limit`);
    this.output.fire({ slot, pid, lines: [`── worker ${slot} (pid ${pid}) uses ${usedMb} MiB, over the ${limitMb} MiB limit: recycling it gracefully${how}`], marker: true });
  }
}
