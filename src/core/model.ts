/** The live model of one server: what the tree, the CLI and the tests read. */
import type { Capabilities } from './adapters';
import type { ServerKind } from './definition';

export type ServerState = 'starting' | 'running' | 'scaling' | 'reloading' | 'restarting' | 'stopping' | 'stopped' | 'failed';
export type WorkerState = 'booting' | 'ready' | 'stopping' | 'exited';

export interface ExitReason {
  code: number | null;
  signal: string | null;
  /** Gunicorn reported WORKER TIMEOUT for it, or Uvicorn killed it for failing its health check. */
  timedOut: boolean;
  /** The request it was on when it timed out: "GET /report, 31.0 s" (request insight). */
  request?: string;
  /** Said for people: "killed by SIGKILL", "exited with code 3", "WORKER TIMEOUT (GET /report, 31.0 s; exited with code 1)". */
  text: string;
}

/** A request a worker is serving (request insight). */
export interface InFlightRequest {
  method: string;
  /** Without the query string. */
  path: string;
  /** ms since the epoch */
  startedAt: number;
}

/** What a worker's agent counts of the requests it serves (request insight); see docs/agent-protocol.md. */
export interface WorkerInsight {
  /** Requests served since the worker started. */
  served: number;
  /** Requests per second, over the last 5 full seconds. */
  rate: number;
  /** Latency percentiles of the requests that ended in the last minute (null when none did). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** How many requests the percentiles cover. */
  latencyCount: number;
  /** Responses by status class ("1xx" also counts unknown statuses); a request that raised before answering is a 5xx. */
  statuses: Readonly<Record<StatusClass, number>>;
  /** Requests whose app raised (unhandled exceptions). */
  exceptions: number;
  /** Requests in flight now. */
  inFlight: number;
  /** The oldest requests in flight (at most 20), oldest first. */
  requests: readonly InFlightRequest[];
  /** Gunicorn's worker timeout in seconds (0: off), in a Gunicorn worker. */
  timeoutSeconds?: number;
  /** The durations of the requests served since the worker started, as a histogram (Prometheus'). */
  durations?: DurationHistogram;
  /** The requests that ended since the agent's previous summary (about the last second). */
  interval?: InsightInterval;
}

export interface DurationHistogram {
  /** Upper bounds in seconds, increasing; `counts` has one more entry, for the requests above the last. */
  le: readonly number[];
  /** Requests per bucket (not cumulative). */
  counts: readonly number[];
  sumSeconds: number;
}

export interface InsightInterval {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Its slowest requests (at most 5), slowest first. */
  slowest: readonly SlowRequest[];
}

/** A request that ended, among the slowest of its interval. */
export interface SlowRequest {
  method: string;
  /** Without the query string. */
  path: string;
  status: number;
  ms: number;
  /** ms since the epoch */
  endedAt: number;
}

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export interface ProcessModel {
  pid: number;
  /** ms since the epoch */
  startedAt: number;
  cpuPercent: number;
  rssBytes: number;
  /** Where the process waits in pdb (breakpoint()); absent when it is not in pdb. */
  pdb?: PdbStop;
}

/** Where a pdb session stopped: the file and line of the frame, its function, the thread. */
export interface PdbStop {
  file: string;
  line: number;
  function: string;
  thread: string;
}

export interface WorkerModel extends ProcessModel {
  slot: number;
  state: WorkerState;
  /** How many times this slot's worker has been replaced after dying. */
  restarts: number;
  lastExit?: ExitReason;
  /** A debugger is attached (or waited for) in this worker. */
  debugging: boolean;
  /** Its requests, while it runs with request insight on (from its agent's last summary). */
  insight?: WorkerInsight;
  /** 1 for the workers of the first start; each reload's workers are one more. */
  generation: number;
}

export interface ServerModel {
  id: string;
  name: string;
  kind: ServerKind;
  state: ServerState;
  url: string;
  desiredWorkers: number;
  /** How the worker count was chosen when the definition gave none. */
  workersFormula?: string;
  master?: ProcessModel;
  /** One per slot, ordered by slot; an exited row waits for its replacement (or is lost when the server does not respawn). */
  workers: readonly WorkerModel[];
  /** Workers of an older generation still finishing their requests during a reload. */
  retiring: readonly WorkerModel[];
  /** A reload's new workers still booting beside the old ones (each takes its slot when ready). */
  incoming: readonly WorkerModel[];
  /** Reloading: on save or not, how, and how the last one ended. */
  reload: ReloadModel;
  capabilities?: Capabilities;
  /** The per-worker memory limit, when the definition sets one. */
  memoryLimitBytes?: number;
  /** Why the server failed or stopped unexpectedly. */
  error?: string;
}

export interface ReloadModel {
  /** Reload on save is on (the watcher of the extension or the CLI reloads after a change). */
  onSave: boolean;
  /** How a reload replaces the workers, once the server runs: a new generation beside the old (`swap`), one worker at a
   *  time, each successor first (`rolling`: Uvicorn's and Granian's own), every worker stopped and then started by the
   *  master (`signal`: Hypercorn's own), or the whole server (`restart`: `restartBecause` says why). */
  method?: 'swap' | 'rolling' | 'signal' | 'restart';
  restartBecause?: string;
  /** The generation serving now. */
  generation: number;
  /** The last reload failed: the previous code is still serving. Cleared by the next reload that succeeds. */
  failure?: ReloadFailure;
}

export interface ReloadFailure {
  file?: string;
  line?: number;
  message: string;
  /** The traceback or the failing worker's last lines. */
  details: string;
  /** The generation still serving. */
  servingGeneration: number;
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** How a timeout came about, for its text: Uvicorn's health check (else Gunicorn's timeout), the request it was on. */
export interface TimeoutContext {
  healthCheck?: boolean;
  request?: string;
}

export function describeExit(code: number | null, signal: string | null, timedOut = false, context: TimeoutContext = {}): ExitReason {
  const base = signal ? `killed by ${signal}` : code === null ? 'exited (reason unknown)' : `exited with code ${code}`;
  if (!timedOut) return { code, signal, timedOut, text: base };
  const label = context.healthCheck ? 'HEALTH CHECK FAILED' : 'WORKER TIMEOUT';
  const text = `${label} (${context.request ? `${context.request}; ` : ''}${base})`;
  return context.request ? { code, signal, timedOut, request: context.request, text } : { code, signal, timedOut, text };
}
