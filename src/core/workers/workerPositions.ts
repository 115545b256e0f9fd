/**
 * Granian names its workers by position (worker-1..N) and its master logs which pid holds a position and when it
 * hands a position to a new process: on SIGHUP, over the memory limit (--workers-max-rss), at the end of a worker's
 * lifetime (--workers-lifetime), after a crash. Except after a crash, the successor starts before the old worker
 * stops; the hand-over read here lets the worker table give the successor the old worker's slot instead of a new one.
 * Pure: it reads lines and returns what they mean.
 */
import { parsePositionFact } from '../logPatterns';

export type PositionEvent =
  /** The worker went over the memory limit; its hand-over follows. */
  | { type: 'overMemory'; pid: number }
  /** The worker's position goes to a new process: the successor takes its slot, and it retires. */
  | { type: 'handover'; pid: number; because: string };

export class WorkerPositions {
  private readonly holders = new Map<number, number>();
  /** Why the next hand-over of a position happens, when the master said so first. */
  private readonly reasons = new Map<number, string>();

  read(line: string): PositionEvent | undefined {
    const fact = parsePositionFact(line);
    if (!fact) return undefined;
    const holder = this.holders.get(fact.position);
    switch (fact.kind) {
      case 'spawned':
        this.holders.set(fact.position, fact.pid!);
        return undefined;
      case 'overMemory':
        this.reasons.set(fact.position, 'recycled');
        return holder === undefined ? undefined : { type: 'overMemory', pid: holder };
      case 'lifetimeExpired':
        this.reasons.set(fact.position, 'reached its lifetime');
        return undefined;
      case 'respawning': {
        const because = this.reasons.get(fact.position) ?? 'reloaded';
        this.reasons.delete(fact.position);
        return holder === undefined ? undefined : { type: 'handover', pid: holder, because };
      }
    }
  }
}
