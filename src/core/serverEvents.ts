/** What a Supervisor reports besides its model, and what it is given: the types its listeners and creators use. */
import type { WorkerModel } from './model';

export interface SupervisorOptions {
  /** Folder of sitecustomize.py; the agent is off when undefined. */
  agentDir?: string;
  /** How long start() waits for every worker to be ready. */
  bootTimeoutMs?: number;
  statsIntervalMs?: number;
  /**
   * Holds every new worker at boot (before it imports the app) until this answers; the answer is sent to the worker's
   * agent as `{"t": "boot", ...answer}`. Launch-mode debugging uses it to make chosen workers wait for a debugger.
   */
  onWorkerBoot?: (worker: WorkerModel) => Promise<Record<string, unknown>>;
  /** Reload on save when the definition does not say (the serverWorkers.reloadOnSave setting; the CLI's --reload). */
  reloadOnSave?: boolean;
  /** Seconds a reload's new code may take to import and boot when the definition does not say (serverWorkers.reloadTimeout). */
  reloadTimeout?: number;
}

export interface OutputEvent {
  /** 0 for the master */
  slot: number;
  pid: number;
  lines: string[];
  /** A line the supervisor wrote (a respawn marker), not the process. */
  marker?: boolean;
  /**
   * The last line has no newline yet (the process went quiet in the middle of it, or it passed 1 MiB): the next
   * event of the same stream (slot, pid, `stream`) continues it, with `continues`.
   */
  partial?: boolean;
  /** The first line continues the partial last line of the previous event of the same stream. */
  continues?: boolean;
  /** The master's two pipes are two streams; a worker's output is one. */
  stream?: 'stdout' | 'stderr';
}

export interface WorkerEvent {
  type: 'up' | 'ready' | 'exit';
  worker: WorkerModel;
}

/**
 * A master started: the first start, and each new master after a restart (asked, by the restart policy, or as the
 * way a server without live scaling or reload scales or reloads). Fired before any of its workers' events.
 */
export interface MasterStartEvent {
  pid: number;
}

export interface ExitEvent {
  expected: boolean;
  code: number | null;
  signal: string | null;
  error?: string;
  /** The restart policy restarts the server after this many ms (attempt `restartAttempt` of the definition's maximum). */
  restartInMs?: number;
  restartAttempt?: number;
}
