/**
 * What the page draws, derived from its state: the charts' aligned series (one per worker slot, and totals), the
 * markers of what happened, the tables' rows, each worker's totals over the window. Pure, no DOM: unit-tested in Node.
 */
import type { EventData, InFlightRow, SlowData } from './protocol';
import type { Column, Data, Point } from './reducer';
import { t } from './strings';

export type Values = Array<number | null>;

export interface Series {
  /** Seconds since the epoch (uPlot's time unit), one per second in the window. */
  x: number[];
  /** The slots seen in the window, in order: one line each. */
  slots: number[];
  requestsPerSecond: Values[];
  totalPerSecond: Values;
  p50Ms: Values[];
  p99Ms: Values[];
  status4xxPerSecond: Values;
  status5xxPerSecond: Values;
  inFlight: Values[];
  cpuPercent: Values[];
  rssMb: Values[];
  /** The x range: the window ending at the host's now. */
  range: [number, number];
}

export interface Totals {
  requests: number;
  bySlot: Map<number, number>;
  status4xx: number;
  status5xx: number;
}

export interface Marker {
  /** seconds since the epoch */
  x: number;
  kind: 'exit' | 'replaced' | 'reload' | 'reload-failed' | 'scale' | 'state';
  /** A few characters drawn at the top of the line. */
  label: string;
  /** Said in full (the events list, the tooltip). */
  text: string;
}

const MB = 1024 * 1024;

export function windowColumns(data: Data, windowMinutes: number): readonly Column[] {
  const from = data.now - windowMinutes * 60_000;
  const first = data.columns.findIndex((c) => c.t > from);
  return first === -1 ? [] : data.columns.slice(first);
}

export function seriesOf(data: Data, windowMinutes: number): Series {
  const columns = windowColumns(data, windowMinutes);
  const slots = [...new Set(columns.flatMap((c) => c.points.map((p) => p.slot)))].sort((a, b) => a - b);
  const index = new Map(slots.map((slot, i) => [slot, i]));
  const grid = () => slots.map(() => new Array<number | null>(columns.length).fill(null));
  const series: Series = {
    x: columns.map((c) => c.t / 1000),
    slots,
    requestsPerSecond: grid(),
    totalPerSecond: new Array<number | null>(columns.length).fill(null),
    p50Ms: grid(),
    p99Ms: grid(),
    status4xxPerSecond: new Array<number | null>(columns.length).fill(null),
    status5xxPerSecond: new Array<number | null>(columns.length).fill(null),
    inFlight: grid(),
    cpuPercent: grid(),
    rssMb: grid(),
    range: [(data.now - windowMinutes * 60_000) / 1000, data.now / 1000],
  };
  columns.forEach((column, at) => {
    const seconds = Math.max(0.001, column.d / 1000);
    for (const point of column.points) {
      const row = index.get(point.slot)!;
      // A slot whose worker was replaced in this second has two points: requests add up, the rest is the newest's.
      add(series.requestsPerSecond[row], at, point.requests / seconds);
      add(series.totalPerSecond, at, point.requests / seconds);
      add(series.status4xxPerSecond, at, point.status4xx / seconds);
      add(series.status5xxPerSecond, at, point.status5xx / seconds);
      latest(series.p50Ms[row], at, point.p50Ms);
      latest(series.p99Ms[row], at, point.p99Ms);
      latest(series.inFlight[row], at, point.inFlight);
      latest(series.cpuPercent[row], at, point.cpuPercent);
      latest(series.rssMb[row], at, point.rssBytes / MB);
    }
  });
  return series;
}

function add(values: Values, at: number, value: number): void {
  if (Number.isNaN(value)) return;
  values[at] = (values[at] ?? 0) + value;
}

function latest(values: Values, at: number, value: number): void {
  if (!Number.isNaN(value)) values[at] = value;
}

/** Requests (and 4xx, 5xx) that ended in the window, in all and per slot. */
export function totalsOf(data: Data, windowMinutes: number): Totals {
  const totals: Totals = { requests: 0, bySlot: new Map(), status4xx: 0, status5xx: 0 };
  for (const column of windowColumns(data, windowMinutes)) {
    for (const point of column.points) {
      if (Number.isNaN(point.requests)) continue;
      totals.requests += point.requests;
      totals.bySlot.set(point.slot, (totals.bySlot.get(point.slot) ?? 0) + point.requests);
      totals.status4xx += point.status4xx;
      totals.status5xx += point.status5xx;
    }
  }
  return totals;
}

/** The newest point of each slot (the workers' figures now). */
export function latestPoints(data: Data): Map<number, Point> {
  const latestBySlot = new Map<number, Point>();
  for (const point of data.columns.at(-1)?.points ?? []) latestBySlot.set(point.slot, point);
  return latestBySlot;
}

export function markersOf(data: Data, windowMinutes: number): Marker[] {
  const from = data.now - windowMinutes * 60_000;
  return data.events.filter((e) => e.at >= from).flatMap((e): Marker[] => {
    const x = e.at / 1000;
    switch (e.kind) {
      case 'exit':
        return [{ x, kind: 'exit', label: `✕${e.slot}`, text: t('worker {0} (pid {1}) {2}', e.slot, e.pid, e.reason) }];
      case 'replaced':
        return [{ x, kind: 'replaced', label: `↺${e.slot}`, text: t('worker {0} replaced by pid {1} (restart {2})', e.slot, e.pid, e.restarts) }];
      case 'reload':
        if (e.outcome === 'failed') {
          const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ''}` : '?';
          return [{ x, kind: 'reload-failed', label: '⟳✕', text: t('reload failed at {0}: {1} (generation {2} serves)', where, e.message ?? '', e.generation) }];
        }
        return e.outcome === 'reloaded' ? [{ x, kind: 'reload', label: '⟳', text: t('reloaded: generation {0} serves', e.generation) }] : [];
      case 'scale':
        return [{ x, kind: 'scale', label: `${e.from}→${e.to}`, text: t('scaled from {0} to {1} workers', e.from, e.to) }];
      case 'state':
        return [{ x, kind: 'state', label: e.state === 'running' ? '▶' : '■', text: e.error ? t('server {0}: {1}', e.state, e.error) : t('server {0}', e.state) }];
      default:
        return [];
    }
  });
}

export interface InFlightView extends InFlightRow {
  ageMs: number;
}

/** Every request in flight, oldest first, with its age on the host's clock. */
export function inFlightRows(data: Data): InFlightView[] {
  return data.inFlight.map((r) => ({ ...r, ageMs: Math.max(0, data.now - r.startedAt) })).sort((a, b) => b.ageMs - a.ageMs);
}

/** The slowest requests that ended in the window, slowest first. */
export function slowestRows(data: Data, windowMinutes: number, limit = 10): SlowData[] {
  const from = data.now - windowMinutes * 60_000;
  return data.slowest.filter((s) => s.at >= from).sort((a, b) => b.ms - a.ms).slice(0, limit);
}

/** "412 ms", "3.2 s", "2 min 05 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

export type { EventData };
