/**
 * The page's state: a pure reducer of the host's messages and the person's choices (the window, pause, hidden
 * workers). Paused, the picture holds (`frozen`) while the data keeps coming (`live`); resumed, it shows the live data.
 * No DOM here: unit-tested in Node (test/unit/dashboardReducer.test.ts).
 */
import type { WorkerPoint } from '../../src/core/history/figureRing';
import {
  type ColumnData, type EventData, FIGURE_NAMES, type HostMessage, type InFlightRow, type PageState, POINT_FIELDS, type ServerInfo, type SlowData,
} from './protocol';

export type WindowMinutes = 1 | 5 | 15;
export const WINDOWS: readonly WindowMinutes[] = [1, 5, 15];

/** A worker's second (the history's own shape); NaN where a figure is not known. */
export type Point = WorkerPoint;

export interface Column {
  seq: number;
  /** ms since the epoch, at the end of the second */
  t: number;
  /** its length, ms */
  d: number;
  points: Point[];
}

/** What the host has said. */
export interface Data {
  server?: ServerInfo;
  columns: readonly Column[];
  events: readonly EventData[];
  slowest: readonly SlowData[];
  inFlight: readonly InFlightRow[];
  now: number;
  capacity: number;
}

export interface DashboardState {
  serverName?: string;
  live: Data;
  /** The picture held while paused. */
  frozen?: Data;
  windowMinutes: WindowMinutes;
  /** Slots whose lines are hidden. */
  hidden: readonly number[];
}

export type Action =
  | HostMessage
  | { type: 'window'; minutes: WindowMinutes }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'toggleWorker'; slot: number };

const MAX_EVENTS = 2000;
const MAX_SLOWEST = 1000;

const EMPTY: Data = { columns: [], events: [], slowest: [], inFlight: [], now: 0, capacity: 900 };

export function initialState(saved?: PageState): DashboardState {
  const minutes = WINDOWS.find((w) => w === saved?.windowMinutes) ?? 5;
  return { serverName: saved?.serverName, live: EMPTY, windowMinutes: minutes, hidden: saved?.hidden ?? [] };
}

export function reduce(state: DashboardState, action: Action): DashboardState {
  switch (action.type) {
    case 'reset':
      return { ...state, serverName: action.server.name, live: received(EMPTY, action, true) };
    case 'append':
      return { ...state, serverName: action.server.name, live: received(state.live, action, false) };
    case 'window':
      return WINDOWS.includes(action.minutes) ? { ...state, windowMinutes: action.minutes } : state;
    case 'pause':
      return state.frozen ? state : { ...state, frozen: state.live };
    case 'resume':
      return state.frozen ? { ...state, frozen: undefined } : state;
    case 'toggleWorker':
      return { ...state, hidden: state.hidden.includes(action.slot) ? state.hidden.filter((s) => s !== action.slot) : [...state.hidden, action.slot].sort((a, b) => a - b) };
    default:
      return state;
  }
}

/** The data to draw: the held picture while paused, else the live one. */
export function shown(state: DashboardState): Data {
  return state.frozen ?? state.live;
}

/** What the page keeps across a window reload. */
export function pageState(state: DashboardState): PageState | undefined {
  return state.serverName === undefined ? undefined : { serverName: state.serverName, windowMinutes: state.windowMinutes, hidden: [...state.hidden] };
}

function received(data: Data, message: HostMessage, reset: boolean): Data {
  const capacity = Math.max(1, message.capacity);
  const lastSeq = reset ? -1 : data.columns.at(-1)?.seq ?? -1;
  const fresh = message.columns.filter((c) => c.seq > lastSeq).map(toColumn);
  const columns = [...(reset ? [] : data.columns), ...fresh];
  const kept = columns.length > capacity ? columns.slice(columns.length - capacity) : columns;
  // The first second held covers the time after (its end - its length): what happened before left with the seconds before.
  const oldest = kept.length > 0 ? kept[0].t - kept[0].d : -Infinity;
  return {
    server: message.server,
    columns: kept,
    events: appendBySeq(reset ? [] : data.events, message.events, MAX_EVENTS).filter((e) => e.at > oldest),
    slowest: appendBySeq(reset ? [] : data.slowest, message.slowest, MAX_SLOWEST).filter((s) => s.at > oldest),
    inFlight: message.inFlight,
    now: message.now,
    capacity,
  };
}

function appendBySeq<T extends { seq: number }>(held: readonly T[], more: readonly T[], limit: number): readonly T[] {
  const last = held.at(-1)?.seq ?? -1;
  const all = [...held, ...more.filter((m) => m.seq > last)];
  return all.length > limit ? all.slice(all.length - limit) : all;
}

function toColumn(data: ColumnData): Column {
  const points: Point[] = [];
  for (let at = 0; at + POINT_FIELDS <= data.p.length; at += POINT_FIELDS) {
    const point = { pid: data.p[at] ?? 0, slot: data.p[at + 1] ?? 0 } as Point;
    FIGURE_NAMES.forEach((name, i) => (point[name] = data.p[at + 2 + i] ?? NaN));
    points.push(point);
  }
  return { seq: data.seq, t: data.t, d: data.d, points };
}
