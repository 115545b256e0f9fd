/**
 * A reload's new workers, from their events and their output: what each wrote while it booted (bounded per worker: a
 * worker that prints 50 MB at import keeps its last lines here, not 50 MB), which died before they were ready, why
 * the new code did not boot, and the ones still booting when the reload's time was up: their stacks are dumped (where
 * they wait goes in the report), then they are ended with everything they started, so that the reload leaves nothing
 * of itself behind.
 */
import { parseWorkerLogFact } from '../logPatterns';
import type { ReloadFailure, WorkerModel } from '../model';
import { RecentLines } from '../output/bootTails';
import { identityOf } from '../process/procfs';
import { killProcessTree } from '../process/processTree';
import type { OutputEvent, WorkerEvent } from '../serverEvents';
import type { ServerRun } from '../serverRun';
import type { Waiters } from '../waiters';
import { bootFailureComplete, bootFailureFrom, hangFailure, hangLocation } from './bootFailure';

const BOOT_LINES = 400;
const BOOT_CHARS = 256 * 1024;
/** The master may report an exit before the worker's last output is read: this long for its traceback. */
const FAILURE_OUTPUT_WAIT_MS = 1500;
/** After the stack signal, the time a hung worker's stack takes to reach its output. */
const STACK_DUMP_WAIT_MS = 500;
const HUNG_EXIT_WAIT_MS = 10000;
/** Rounds of ending hung workers: each round ends those that came during the one before. */
const MAX_HUNG_ROUNDS = 5;
/** The server's own lines about the worker's start and end, which say nothing of why it ended. */
const SERVER_BOOT_LINE = /Worker exiting \(pid: \d+\)|Waiting for application startup\./;

type Failure = Omit<ReloadFailure, 'servingGeneration'>;

export class NewWorkers {
  /** The generation whose workers are followed (0: no reload runs). */
  private generation = 0;
  private readonly output = new Map<number, RecentLines>();
  private readonly failed: WorkerModel[] = [];

  begin(generation: number): void {
    this.end();
    this.generation = generation;
  }

  /** The reload is over: nothing of its workers' output is kept. */
  end(): void {
    this.generation = 0;
    this.output.clear();
    this.failed.length = 0;
  }

  workerEvent({ type, worker }: WorkerEvent): void {
    if (type === 'up' && this.generation !== 0 && worker.generation === this.generation) this.output.set(worker.pid, new RecentLines(BOOT_LINES, BOOT_CHARS));
    if (type === 'ready') this.output.delete(worker.pid);
    if (type === 'exit' && this.output.has(worker.pid)) this.failed.push(worker);
  }

  outputEvent(event: OutputEvent): void {
    if (!event.marker) this.output.get(event.pid)?.push(event.lines);
  }

  /** Why the new code did not boot: the traceback of a new worker that died, else how it ended and its last line. */
  async failure(cwd: string, app: string): Promise<Failure> {
    const deadline = Date.now() + FAILURE_OUTPUT_WAIT_MS;
    const complete = () => this.failed.find((w) => bootFailureComplete(this.linesOf(w.pid)));
    while (!complete() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const worker = complete() ?? this.failed[0];
    if (!worker) return { message: 'the new workers did not become ready', details: '' };
    const lines = this.linesOf(worker.pid);
    const failure = bootFailureFrom(lines, cwd, app);
    if (!bootFailureComplete(lines)) {
      const last = [...lines].reverse().find((l) => l.trim() !== '' && !SERVER_BOOT_LINE.test(l) && !parseWorkerLogFact(l))?.trim();
      const exit = worker.lastExit?.text ?? 'exited';
      failure.message = `the new worker (pid ${worker.pid}) ${exit.startsWith('killed') ? 'was ' : ''}${exit} before it was ready${last ? `: ${last}` : ''}`;
    }
    return failure;
  }

  /**
   * The new workers still booting: each dumps its stack (its stack signal), then goes with every process it started;
   * settles once their exits are recorded. Workers that came meanwhile (the server replaced a worker that died, with
   * the same code) go the same way. Why the reload failed: where they were waiting.
   */
  async endHung(run: ServerRun, waiters: Waiters, seconds: number, cwd: string): Promise<Failure> {
    const ended: number[] = [];
    for (let round = 0; round < MAX_HUNG_ROUNDS; round++) {
      const hung = [...this.output.keys()].filter((pid) => !ended.includes(pid) && run.table.stateOf(pid) === 'booting');
      if (hung.length === 0) break;
      if (hung.filter((pid) => run.signalStacks(pid)).length > 0) await new Promise((resolve) => setTimeout(resolve, STACK_DUMP_WAIT_MS));
      for (const pid of hung) {
        const identity = identityOf(pid);
        if (identity) killProcessTree(identity);
      }
      ended.push(...hung);
      await waiters.waitFor(() => hung.every((pid) => !run.table.has(pid)), HUNG_EXIT_WAIT_MS, 'the hung new workers to exit').catch(() => undefined);
    }
    const dumps = ended.map((pid) => this.linesOf(pid));
    const located = dumps.find((lines) => hangLocation(lines, cwd) !== undefined) ?? dumps[0] ?? [];
    const pids = ended.length === 1 ? `worker (pid ${ended[0]})` : `workers (pids ${ended.join(', ')})`;
    return hangFailure(`booting the new ${pids}`, seconds, located, cwd, ended.length === 1 ? 'it was stopped' : 'they were stopped');
  }

  private linesOf(pid: number): readonly string[] {
    return this.output.get(pid)?.lines() ?? [];
  }
}
