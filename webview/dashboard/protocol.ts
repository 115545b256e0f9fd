/**
 * The dashboard's messages between the extension (src/extension/dashboard/) and its page (webview/dashboard/): one
 * file, imported by both. No DOM, no Node, no vscode here: plain types and the check of what the page sends.
 *
 * The host sends `reset` when the page (re)appears or its server changes (a new run of the same name), with the whole
 * history the ring holds, then `append` once a second with what is new since; a hidden page gets nothing and is reset
 * when shown again. The page asks with `ready` when it loads, and sends a worker's slot for the row actions.
 */
import { type Figure, FIGURES } from '../../src/core/history/figureRing';
import type { SlowEntry } from '../../src/core/history/slowEntry';

/** The figures of a point, in this order after its pid and slot (see POINT_FIELDS): the history's own. */
export const FIGURE_NAMES = FIGURES;
export type FigureName = Figure;
/** A point is POINT_FIELDS numbers: pid, slot, then the figures; null where a figure is not known. */
export const POINT_FIELDS = 2 + FIGURE_NAMES.length;

/** One second: its end (ms since the epoch), its length (ms), and its points flattened. */
export interface ColumnData {
  seq: number;
  t: number;
  d: number;
  p: Array<number | null>;
}

export interface WorkerInfo {
  slot: number;
  pid: number;
  state: 'booting' | 'ready' | 'stopping' | 'exited';
}

export interface ServerInfo {
  name: string;
  /** The supervisor's state; 'stopped' also when no server of this name runs in the window now. */
  state: string;
  kind?: string;
  url?: string;
  workers: WorkerInfo[];
  /** Request insight is off (the agent or the setting): no request figures will come. */
  insightOff?: boolean;
  error?: string;
}

export type EventData =
  | { seq: number; kind: 'exit'; at: number; slot: number; pid: number; reason: string; timedOut: boolean }
  | { seq: number; kind: 'replaced'; at: number; slot: number; pid: number; restarts: number }
  | { seq: number; kind: 'reload'; at: number; outcome: 'started' | 'reloaded' | 'failed'; generation: number; file?: string; line?: number; message?: string }
  | { seq: number; kind: 'scale'; at: number; from: number; to: number }
  | { seq: number; kind: 'state'; at: number; state: string; error?: string };

/** A slow request, as the history logged it. */
export type SlowData = SlowEntry & { seq: number };

export interface InFlightRow {
  slot: number;
  pid: number;
  method: string;
  path: string;
  startedAt: number;
}

interface Update {
  server: ServerInfo;
  columns: ColumnData[];
  events: EventData[];
  slowest: SlowData[];
  /** Every request in flight now, oldest first (each worker's oldest 20). */
  inFlight: InFlightRow[];
  /** The host's clock when it sent this (ages are measured on it). */
  now: number;
  /** The seconds the history keeps. */
  capacity: number;
}

export type HostMessage = ({ type: 'reset' } & Update) | ({ type: 'append' } & Update);

export type RowAction = 'showLogs' | 'showStack' | 'debugWorker';

export type PageMessage =
  | { type: 'ready' }
  | { type: 'row'; action: RowAction; slot: number };

const ROW_ACTIONS: readonly RowAction[] = ['showLogs', 'showStack', 'debugWorker'];

/** What the page sent, checked (a webview is content): the message, or undefined when it has the wrong shape. */
export function parsePageMessage(value: unknown): PageMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const message = value as Record<string, unknown>;
  if (message.type === 'ready') return { type: 'ready' };
  if (message.type === 'row' && ROW_ACTIONS.includes(message.action as RowAction)) {
    const slot = message.slot;
    if (typeof slot === 'number' && Number.isInteger(slot) && slot >= 1 && slot <= 1024) return { type: 'row', action: message.action as RowAction, slot };
  }
  return undefined;
}

/** What the page keeps across a window reload (vscode.setState): the serializer reopens the panel on this server. */
export interface PageState {
  serverName: string;
  windowMinutes?: number;
  hidden?: number[];
}

export function parsePageState(value: unknown): PageState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { serverName, windowMinutes, hidden } = value as Record<string, unknown>;
  if (typeof serverName !== 'string' || serverName === '') return undefined;
  return {
    serverName,
    ...(typeof windowMinutes === 'number' ? { windowMinutes } : {}),
    ...(Array.isArray(hidden) ? { hidden: hidden.filter((s): s is number => typeof s === 'number') } : {}),
  };
}

/** Every text the page shows (English, the key of its translation): the host gives each through vscode.l10n.t. */
export type PageString =
  | 'Requests per second' | 'worker {0}' | 'total' | 'Latency p50 (dashed) and p99, ms' | '{0} p50' | '{0} p99' | '4xx and 5xx per second'
  | 'Busy: requests in flight per worker' | 'CPU %' | 'Resident memory, MB'
  | 'Requests in {0} min' | 'Now, per second' | 'p99 now' | 'In flight' | 'Show worker {0}' | 'Hide worker {0}' | 'gone'
  | 'Logs' | 'Stack' | 'Debug' | 'Open the channel of worker {0}' | 'Show the stack of worker {0}' | 'Debug worker {0}'
  | 'Worker' | 'Method' | 'Path' | 'Age' | 'Status' | 'No request in flight.' | 'No request ended in this window yet.' | 'Nothing happened in this window.'
  | 'worker {0} (pid {1}) {2}' | 'worker {0} replaced by pid {1} (restart {2})' | 'reload failed at {0}: {1} (generation {2} serves)'
  | 'reloaded: generation {0} serves' | 'scaled from {0} to {1} workers' | 'server {0}: {1}' | 'server {0}'
  | 'Requests in flight, oldest first' | 'Slowest recent requests' | 'What happened' | '{0} min' | 'Server Workers' | 'waiting' | 'Resume' | 'Pause'
  | 'The server is {0}: {1}' | 'The server is {0}. The dashboard goes on when it runs again.'
  | 'Request insight is off for this server: only CPU and memory are charted.';
