/** What `run` writes: lines for people (prefixed per slot, coloured on a terminal) or JSON events for scripts. */
import type { ServerModel, WorkerInsight, WorkerModel } from '../core/model';
import { separateLines } from '../core/output/separateLines';
import type { OutputEvent, Supervisor } from '../core/supervisor';
import { sumInsights } from '../core/workers/insight';
import { PeopleStdout } from './pdb';

export type Emit = (event: Record<string, unknown>) => void;

export interface CliOptions {
  json: boolean;
  color: boolean;
}

/** What people read: lines written whole, and pdb's prompt without its newline. */
export const stdout = new PeopleStdout();

const COLORS = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96];

export function workerJson(worker: WorkerModel): Record<string, unknown> {
  return { slot: worker.slot, pid: worker.pid, state: worker.state, restarts: worker.restarts, generation: worker.generation, reason: worker.lastExit?.text };
}

export function attachOutput(supervisor: Supervisor, options: CliOptions, emit: Emit): void {
  supervisor.onOutput.on((event) => {
    if (options.json) {
      emitLogLines(event, emit);
      return;
    }
    const linePrefix = prefix(options, event.slot);
    // A line without its newline is shown as a line; its rest follows on a line of its own, marked ↪ (other
    // streams' lines may come between).
    const lines = separateLines(event);
    if (lines.length > 0) stdout.write(lines.map((line) => linePrefix + line).join('\n') + '\n');
  });
  supervisor.onWorker.on(({ type, worker }) => {
    if (options.json) emit({ event: `worker-${type}`, ...workerJson(worker) });
    else if (type === 'exit') info(options, `worker ${worker.slot} (pid ${worker.pid}) ${worker.lastExit?.text ?? 'exited'}`);
  });
  supervisor.onMasterStart.on(({ pid }) => {
    if (options.json) emit({ event: 'master-start', pid });
  });
  supervisor.onExit.on((exit) => {
    if (options.json) emit({ event: 'master-exit', expected: exit.expected, code: exit.code, signal: exit.signal, error: exit.error });
    else if (!exit.expected) process.stderr.write(`server-workers: ${exit.error}\n`);
  });
  let lastState = '';
  supervisor.onDidChange.on((model) => {
    if (model.state === lastState) return;
    lastState = model.state;
    if (options.json && model.state === 'stopped') emit({ event: 'stopped', masterPid: supervisor.pid });
    if (options.json && model.state === 'failed') emit({ event: 'failed', error: model.error });
  });
  if (options.json) {
    const timer = setInterval(() => {
      const model = supervisor.model();
      if (model.state !== 'stopped' && model.state !== 'failed') emit({ event: 'stats', ...statsJson(model) });
    }, 1000);
    timer.unref();
  }
}

export function prefix(options: CliOptions, slot: number): string {
  const source = slot === 0 ? 'master' : `worker.${slot}`;
  return options.color ? `\x1b[${COLORS[slot % COLORS.length]}m${source.padEnd(9)}|\x1b[0m ` : `${source.padEnd(9)}| `;
}

/**
 * One JSON line per line. `partial: true`: the line has no newline yet, and the next log of the same slot, pid and
 * stream continues it (`continued: true`; an empty continued line only ends it). The master's lines say which pipe.
 */
function emitLogLines(event: OutputEvent, emit: Emit): void {
  const last = event.lines.length - 1;
  event.lines.forEach((line, i) => {
    const json: Record<string, unknown> = { event: event.marker ? 'marker' : 'log', slot: event.slot, pid: event.pid, stream: event.stream ?? 'output', line };
    if (i === 0 && event.continues) json.continued = true;
    if (i === last && event.partial) json.partial = true;
    emit(json);
  });
}

function statsJson(model: ServerModel, now = Date.now()): Record<string, unknown> {
  const totals = sumInsights(model.workers);
  return {
    state: model.state,
    master: model.master && { pid: model.master.pid, cpuPercent: round(model.master.cpuPercent), rssBytes: model.master.rssBytes },
    workers: model.workers.map((w) => ({
      slot: w.slot, pid: w.pid, state: w.state, cpuPercent: round(w.cpuPercent), rssBytes: w.rssBytes, restarts: w.restarts, generation: w.generation,
      ...(w.insight ? { requests: requestsJson(w.insight, now) } : {}),
      ...(w.pdb ? { pdb: { file: w.pdb.file, line: w.pdb.line } } : {}),
    })),
    ...(totals ? { requests: { served: totals.served, rate: totals.rate, inFlight: totals.inFlight, statuses: totals.statuses, exceptions: totals.exceptions, worstP99Ms: totals.worstP99Ms } } : {}),
  };
}

/** A worker's request insight in `stats`: its figures, and its oldest requests in flight with their age. */
function requestsJson(insight: WorkerInsight, now: number): Record<string, unknown> {
  const { served, rate, p50Ms, p99Ms, statuses, exceptions, inFlight, timeoutSeconds } = insight;
  return {
    served, rate, p50Ms, p99Ms, statuses, exceptions, inFlight, timeoutSeconds,
    inFlightRequests: insight.requests.map((r) => ({ method: r.method, path: r.path, startedAt: r.startedAt, ageSeconds: round(Math.max(0, now - r.startedAt) / 1000) })),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function info(options: CliOptions, text: string): void {
  stdout.write(options.color ? `\x1b[2m${'sw'.padEnd(9)}| ${text}\x1b[0m\n` : `${'sw'.padEnd(9)}| ${text}\n`);
}
