/**
 * What is known about why a worker exited, from every source, and the one function that gives the reason. The best
 * source first: the master's own report (the agent's waitpid wrapper: exact), the zombie's wait status in /proc
 * (exact, while the master has not reaped it), what the master logged (`Worker (pid:N) was sent SIGKILL!`, `exited
 * with code`), the signal the supervisor itself sent; `WORKER TIMEOUT (pid:N)`, or the Uvicorn master's agent saying it
 * kills the worker for failing its health check (`hung`), marks any of them as a timeout.
 */
import { parseWorkerLogFact } from '../logPatterns';
import { describeExit, type ExitReason, type ExitStatus } from '../model';
import { zombieExit } from '../process/procfs';

export class ExitEvidence {
  private readonly timedOut = new Set<number>();
  private readonly failedHealthCheck = new Set<number>();
  private readonly logged = new Map<number, ExitStatus>();
  private readonly sent = new Map<number, string>();

  constructor(private readonly readZombie: (pid: number) => ExitStatus | undefined = zombieExit) {}

  /** A line of the master's (or, with the agent, a worker's) output: the facts it states about a worker's end. Returns
   * the pid of a worker it says timed out. */
  observeLine(line: string): number | undefined {
    const fact = parseWorkerLogFact(line);
    if (fact?.kind === 'timeout') this.timedOut.add(fact.pid);
    else if (fact?.kind === 'signalled') this.logged.set(fact.pid, { code: null, signal: fact.signal ?? null });
    else if (fact?.kind === 'exited') this.logged.set(fact.pid, { code: fact.code ?? null, signal: null });
    return fact?.kind === 'timeout' ? fact.pid : undefined;
  }

  /** Only the timeout facts of a line (a worker's own output may carry the master's log lines, Gunicorn's included). */
  observeTimeout(line: string): void {
    if (!line.includes('WORKER TIMEOUT')) return; // every line of every worker passes here: the patterns only when it can match
    const fact = parseWorkerLogFact(line);
    if (fact?.kind === 'timeout') this.timedOut.add(fact.pid);
  }

  /** Uvicorn's master is about to kill `pid` for not answering its health check. */
  healthCheckFailed(pid: number): void {
    this.failedHealthCheck.add(pid);
  }

  signalSent(pid: number, signal: string): void {
    this.sent.set(pid, signal);
  }

  /**
   * Why `pid` exited: `reported` (the master's report) when there is one, else the best evidence gathered. `request`:
   * what it was serving (request insight), named when it timed out.
   */
  reasonFor(pid: number, reported?: ExitStatus, request?: string): ExitReason {
    const status = reported ?? this.readZombie(pid) ?? this.logged.get(pid) ?? signalled(this.sent.get(pid));
    const healthCheck = this.failedHealthCheck.has(pid);
    return describeExit(status?.code ?? null, status?.signal ?? null, this.timedOut.has(pid) || healthCheck, { healthCheck, request });
  }

  clear(): void {
    this.timedOut.clear();
    this.failedHealthCheck.clear();
    this.logged.clear();
    this.sent.clear();
  }
}

function signalled(signal: string | undefined): ExitStatus | undefined {
  return signal === undefined ? undefined : { code: null, signal };
}
