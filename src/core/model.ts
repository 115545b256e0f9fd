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
  capabilities?: Capabilities;
  /** The per-worker memory limit, when the definition sets one. */
  memoryLimitBytes?: number;
  /** Why the server failed or stopped unexpectedly. */
  error?: string;
}

export function describeExit(code: number | null, signal: string | null, timedOut = false): ExitReason {
  const base = signal ? `killed by ${signal}` : code === null ? 'exited (reason unknown)' : `exited with code ${code}`;
  return { code, signal, timedOut, text: timedOut ? `WORKER TIMEOUT (${base})` : base };
}
