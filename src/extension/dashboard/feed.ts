/**
 * What the dashboard's page is sent (webview/dashboard/protocol.ts), read from a server's history and model: all the
 * ring holds on `reset`, what is new since the last message on `append`. No vscode here.
 */
import { FIGURES, type HistoryColumn } from '../../core/history/figureRing';
import type { ServerModel } from '../../core/model';
import type { Supervisor } from '../../core/supervisor';
import type { ColumnData, HostMessage, InFlightRow, ServerInfo } from '../../../webview/dashboard/protocol';

/** The seconds' figures, flattened (pid, slot, figures; null for NaN: JSON has no NaN). */
export function columnData(column: HistoryColumn): ColumnData {
  const p: Array<number | null> = [];
  for (const point of column.points) {
    p.push(point.pid, point.slot);
    for (const figure of FIGURES) {
      const value = point[figure];
      p.push(Number.isNaN(value) ? null : figure === 'rssBytes' ? Math.round(value) : Math.round(value * 1000) / 1000);
    }
  }
  return { seq: column.seq, t: column.time, d: column.durationMs, p };
}

export function serverInfo(name: string, supervisor: Supervisor | undefined): ServerInfo {
  if (!supervisor) return { name, state: 'stopped', workers: [] };
  const model = supervisor.model();
  return {
    name: model.name,
    state: model.state,
    kind: model.kind,
    url: model.url,
    workers: model.workers.map(({ slot, pid, state }) => ({ slot, pid, state })),
    ...(supervisor.agentEnabled && supervisor.currentDefinition.insight !== false ? {} : { insightOff: true }),
    ...(model.error ? { error: model.error } : {}),
  };
}

/** Every request in flight now, oldest first. */
export function inFlightRows(model: ServerModel): InFlightRow[] {
  return [...model.workers, ...model.retiring]
    .filter((w) => w.state !== 'exited')
    .flatMap((w) => (w.insight?.requests ?? []).map((r) => ({ slot: w.slot, pid: w.pid, method: r.method, path: r.path, startedAt: r.startedAt })))
    .sort((a, b) => a.startedAt - b.startedAt);
}

/** A page's place in one server's history: which seconds, events and slow requests it has been sent. */
export class DashboardFeed {
  private columns = 0;
  private events = 0;
  private slowest = 0;

  constructor(private readonly name: string, readonly supervisor: Supervisor | undefined) {}

  /** Everything the history holds (a page that appears, or a new run of the server). */
  reset(now = Date.now()): HostMessage {
    this.columns = 0;
    this.events = 0;
    this.slowest = 0;
    return { type: 'reset', ...this.update(now) };
  }

  /** What is new since the last message. */
  append(now = Date.now()): HostMessage {
    return { type: 'append', ...this.update(now) };
  }

  private update(now: number): Omit<HostMessage, 'type'> {
    const history = this.supervisor?.history;
    const columns = history ? history.figures.read(this.columns).map(columnData) : [];
    const events = history ? history.events.read(this.events) : [];
    const slowest = history ? history.slowest.read(this.slowest) : [];
    if (history) {
      this.columns = history.figures.endSeq;
      this.events = history.events.endSeq;
      this.slowest = history.slowest.endSeq;
    }
    return {
      server: serverInfo(this.name, this.supervisor),
      columns,
      events,
      slowest,
      inFlight: this.supervisor ? inFlightRows(this.supervisor.model()) : [],
      now,
      capacity: history?.figures.seconds ?? 900,
    };
  }
}
