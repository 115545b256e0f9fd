/** A worker as the worker table keeps it, what a change of the table reports, and the model's frozen view of a worker. */
import type { ExitReason, PdbStop, WorkerInsight, WorkerModel, WorkerState } from '../model';

export interface WorkerRecord {
  slot: number;
  pid: number;
  state: WorkerState;
  startedAt: number;
  /** 1 for the workers of the first start; each reload's workers are one more. */
  generation: number;
  restarts: number;
  lastExit?: ExitReason;
  cpuPercent: number;
  rssBytes: number;
  debugging: boolean;
  /** Where it waits in pdb. */
  pdb?: PdbStop;
  /** Why the supervisor itself asked it to go (over the memory limit), for its exit reason. */
  recycledBecause?: string;
  /** The pid of the worker this one replaced in its slot. */
  previousPid?: number;
  /** Why the server hands its slot to a successor, when it is not a reload (see expectReplacement). */
  handoverBecause?: string;
  /** Its agent's latest request summary (request insight). */
  insight?: WorkerInsight;
  /** When its exit was recorded (ms since the epoch). */
  exitedAt?: number;
}

export interface MarkerLine {
  slot: number;
  pid: number;
  line: string;
}

/** What a change did: the worker event for listeners, the marker lines for the slot's stream. */
export interface WorkerChange {
  type: 'up' | 'ready' | 'exit';
  worker: WorkerModel;
  markers: MarkerLine[];
  /** An exit of a worker that never became ready. */
  diedBooting?: boolean;
}

/** What the table needs to know of the server when a worker exits. */
export interface ExitContext {
  /** The server replaces a worker that dies (and is running, not stopping). */
  replaced: boolean;
  /** Named in the marker of a worker that is not replaced. */
  serverKind: string;
  /** The server stops every worker and itself when one dies (Hypercorn). */
  stopsServer?: boolean;
  /** Gunicorn's boot guard is on: a worker that dies before it is ready is not replaced (its count went down). */
  guardedBoots?: boolean;
  /** When the exit is recorded (ms since the epoch); unknown: now. */
  at?: number;
}

/** An exit the server asked for (SIGTERM and the like, or a clean exit), not a crash. */
export function isGraceful(reason: ExitReason): boolean {
  return !reason.timedOut && (reason.signal === null ? reason.code === 0 || reason.code === null : ['SIGTERM', 'SIGINT', 'SIGQUIT'].includes(reason.signal));
}

/** The last model of each worker: a worker whose fields did not change keeps its model object (views compare it). */
const lastModels = new WeakMap<WorkerRecord, WorkerModel>();

export function toModel(worker: WorkerRecord): WorkerModel {
  const model: WorkerModel = {
    slot: worker.slot,
    pid: worker.pid,
    state: worker.state,
    startedAt: worker.startedAt,
    restarts: worker.restarts,
    lastExit: worker.lastExit,
    cpuPercent: worker.cpuPercent,
    rssBytes: worker.rssBytes,
    debugging: worker.debugging,
    generation: worker.generation,
    ...(worker.insight ? { insight: worker.insight } : {}),
    ...(worker.pdb ? { pdb: worker.pdb } : {}),
  };
  const last = lastModels.get(worker);
  if (last && sameFields(last, model)) return last;
  lastModels.set(worker, Object.freeze(model));
  return model;
}

function sameFields(a: object, b: object): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => (a as Record<string, unknown>)[key] === (b as Record<string, unknown>)[key]);
}
