/** The live model of one server: what the tree, the CLI and the tests read. */
import type { Capabilities } from './adapters';
import type { ServerKind } from './definition';

export type ServerState = 'starting' | 'running' | 'scaling' | 'reloading' | 'restarting' | 'stopping' | 'stopped' | 'failed';
export type WorkerState = 'booting' | 'ready' | 'stopping' | 'exited';

export interface ExitReason {
  code: number | null;
  signal: string | null;
  /** Gunicorn reported WORKER TIMEOUT for it before it died. */
  timedOut: boolean;
  /** Said for people: "killed by SIGKILL", "exited with code 3", "WORKER TIMEOUT (killed by SIGABRT)". */
  text: string;
}

export interface ProcessModel {
  pid: number;
  /** ms since the epoch */
  startedAt: number;
  cpuPercent: number;
  rssBytes: number;
}

export interface WorkerModel extends ProcessModel {
  slot: number;
  state: WorkerState;
  /** How many times this slot's worker has been replaced after dying. */
  restarts: number;
  lastExit?: ExitReason;
  /** A debugger is attached (or waited for) in this worker. */
  debugging: boolean;
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
   *  time (`rolling`, Uvicorn's own), or the whole server (`restart`: `restartBecause` says why). */
  method?: 'swap' | 'rolling' | 'restart';
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

export function describeExit(code: number | null, signal: string | null, timedOut = false): ExitReason {
  const base = signal ? `killed by ${signal}` : code === null ? 'exited (reason unknown)' : `exited with code ${code}`;
  return { code, signal, timedOut, text: timedOut ? `WORKER TIMEOUT (${base})` : base };
}
