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

export class FallbackAttribution {
  private lastWriter: number | undefined;

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
