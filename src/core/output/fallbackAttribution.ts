/**
 * Without the agent (`serverWorkers.agent` off, `--no-agent`): the workers are found as the master's children in /proc,
 * and the master's lines are attributed by the pids that Gunicorn's log prefix carries (a line without one goes with
 * the line before it). Uvicorn's lines carry none, so most stay in the master's stream.
 */
import { parseWorkerLogFact, pidOfLogLine } from '../logPatterns';
import { childrenOf, commandLine } from '../process/procfs';

export interface AttributedLine {
  /** A worker the line announces, and whether that makes it ready. */
  announced?: { pid: number; ready: boolean };
  /** The pid whose stream the line belongs to, when the line (or the lines before it) name one. */
  writer?: number;
}

/** Where a line of the master's pipe went: a worker's slot and pid, or the master's (slot 0). */
export interface LineOwner {
  slot: number;
  pid: number;
}

export class FallbackAttribution {
  private lastWriter: number | undefined;
  /** Where the open line of each of the master's pipes went: its rest goes there too (another line may come between). */
  private readonly openLineOwners = new Map<string, LineOwner>();

  /**
   * `readyWhen`: the log line that says a worker can serve: Uvicorn-based workers log `Started server process [N]`
   * once their startup is done (Hypercorn's: `Running on`); Gunicorn's own workers are ready at `Booting worker with
   * pid: N`, Granian's when its master logs `Spawning worker-K with PID: N`.
   */
  constructor(private readonly readyWhen: 'booting' | 'started') {}

  read(line: string): AttributedLine {
    const fact = parseWorkerLogFact(line);
    const announced = fact && (fact.kind === 'booting' || fact.kind === 'spawned' || fact.kind === 'started')
      ? { pid: fact.pid, ready: fact.kind === 'started' || this.readyWhen === 'booting' }
      : undefined;
    const pid = pidOfLogLine(line);
    if (pid !== undefined) this.lastWriter = pid;
    return { announced, writer: this.lastWriter };
  }

  /**
   * Where the start of this piece's line went, when it continues one shown before its newline; the lines after it go
   * there too, as after a line that names its pid.
   */
  openLineOwner(pipe: string, continues: boolean): LineOwner | undefined {
    const owner = continues ? this.openLineOwners.get(pipe) : undefined;
    if (owner) this.lastWriter = owner.pid;
    return owner;
  }

  /** Remembers where a piece went while its line is open. */
  routed(pipe: string, owner: LineOwner, open: boolean): void {
    if (open) this.openLineOwners.set(pipe, { slot: owner.slot, pid: owner.pid });
    else this.openLineOwners.delete(pipe);
  }
}

/**
 * The master's children that are workers (not multiprocessing's resource tracker). `spawned`: the server spawns its
 * workers (Uvicorn, Hypercorn), with --multiprocessing-fork on their command line.
 */
export function discoverWorkers(masterPid: number, spawned: boolean): number[] {
  return childrenOf(masterPid).filter((pid) => {
    const command = commandLine(pid);
    if (command.includes('resource_tracker')) return false;
    return !spawned || command.includes('--multiprocessing-fork');
  });
}
