/** The dashboard without a browser: the page's reducer and views, the protocol's checks, the host's feed. */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { resolveDefinition } from '../../src/core/definition';
import { Supervisor } from '../../src/core/supervisor';
import { columnData, DashboardFeed } from '../../src/extension/dashboard/feed';
import { type ColumnData, type EventData, type HostMessage, parsePageMessage, parsePageState, type SlowData } from '../../webview/dashboard/protocol';
import { type Action, type DashboardState, initialState, pageState, reduce, shown } from '../../webview/dashboard/reducer';
import { formatDuration, inFlightRows, markersOf, seriesOf, slowestRows, totalsOf } from '../../webview/dashboard/view';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A point: pid, slot, requests, 4xx, 5xx, p50, p99, in flight, CPU %, RSS. */
function pt(pid: number, slot: number, requests: number | null, extra: Array<number | null> = [0, 0, 5, 9, 1, 3, 50 * 1024 * 1024]): Array<number | null> {
  return [pid, slot, requests, ...extra];
}

function column(seq: number, points: Array<Array<number | null>>, d = 1000): ColumnData {
  return { seq, t: T0 + seq * 1000, d, p: points.flat() };
}

function message(type: 'reset' | 'append', columns: ColumnData[], more: Partial<HostMessage> = {}): HostMessage {
  const now = columns.at(-1)?.t ?? T0;
  return { type, server: { name: 'api', state: 'running', workers: [] }, columns, events: [], slowest: [], inFlight: [], now, capacity: 900, ...more };
}

function run(actions: Action[], state: DashboardState = initialState()): DashboardState {
  return actions.reduce(reduce, state);
}

describe('the dashboard page\'s state', () => {
  it('a reset takes the history, appends add only the seconds after the last, and the ring\'s capacity bounds it', () => {
    let state = run([message('reset', [column(0, [pt(11, 1, 2)]), column(1, [pt(11, 1, 3)])])]);
    state = run([message('append', [column(1, [pt(11, 1, 3)]), column(2, [pt(11, 1, 4)])])], state);
    assert.deepStrictEqual(state.live.columns.map((c) => c.seq), [0, 1, 2], 'a second sent twice counts once');
    assert.strictEqual(state.serverName, 'api');
    const small = run([message('reset', [0, 1, 2, 3, 4].map((s) => column(s, [pt(11, 1, 1)])), { capacity: 3 })]);
    assert.deepStrictEqual(small.live.columns.map((c) => c.seq), [2, 3, 4]);
    const again = run([message('reset', [column(7, [pt(12, 1, 1)])])], state);
    assert.deepStrictEqual(again.live.columns.map((c) => c.seq), [7], 'a reset (a new run) replaces what was held');
  });

  it('reads a point\'s figures, null as not known', () => {
    const state = run([message('reset', [column(0, [pt(11, 1, null, [null, null, null, null, null, null, null])])])]);
    const [point] = state.live.columns[0].points;
    assert.strictEqual(point.pid, 11);
    assert.ok(Number.isNaN(point.requests) && Number.isNaN(point.rssBytes));
  });

  it('events and slow requests are appended by their sequence, and leave with the seconds they belong to', () => {
    const exit: EventData = { seq: 0, kind: 'exit', at: T0 + 1000, slot: 1, pid: 11, reason: 'killed by SIGKILL', timedOut: false };
    const slow: SlowData = { seq: 0, at: T0 + 900, slot: 1, pid: 11, method: 'GET', path: '/report', status: 200, ms: 812 };
    let state = run([message('reset', [column(0, []), column(1, [])], { events: [exit], slowest: [slow], capacity: 3 })]);
    state = run([message('append', [column(2, [])], { events: [exit, { ...exit, seq: 1, at: T0 + 2000 }], capacity: 3 })], state);
    assert.deepStrictEqual(state.live.events.map((e) => e.seq), [0, 1]);
    state = run([message('append', [column(3, []), column(4, [])], { capacity: 3 })], state);
    assert.deepStrictEqual(state.live.events.map((e) => e.seq), [1], 'the exit of second 1 left with it');
    assert.deepStrictEqual(state.live.slowest, []);
  });

  it('pause holds the picture while data keeps coming; resume shows the live data', () => {
    let state = run([message('reset', [column(0, [pt(11, 1, 5)])]), { type: 'pause' }]);
    state = run([message('append', [column(1, [pt(11, 1, 7)])])], state);
    assert.deepStrictEqual(shown(state).columns.map((c) => c.seq), [0], 'paused: the picture holds');
    assert.deepStrictEqual(state.live.columns.map((c) => c.seq), [0, 1], 'the data kept coming');
    state = run([{ type: 'resume' }], state);
    assert.deepStrictEqual(shown(state).columns.map((c) => c.seq), [0, 1]);
  });

  it('the window, the hidden workers and the server\'s name are what a window reload keeps', () => {
    let state = run([message('reset', []), { type: 'window', minutes: 15 }, { type: 'toggleWorker', slot: 3 }, { type: 'toggleWorker', slot: 1 }]);
    assert.deepStrictEqual(pageState(state), { serverName: 'api', windowMinutes: 15, hidden: [1, 3] });
    state = run([{ type: 'toggleWorker', slot: 3 }, { type: 'window', minutes: 7 as 5 }], state);
    assert.deepStrictEqual(pageState(state), { serverName: 'api', windowMinutes: 15, hidden: [1] }, 'a window that is not 1, 5 or 15 is ignored');
    assert.deepStrictEqual(initialState(parsePageState(pageState(state))), { serverName: 'api', live: initialState().live, windowMinutes: 15, hidden: [1] });
    assert.strictEqual(initialState(parsePageState({ serverName: 'api', windowMinutes: 2 })).windowMinutes, 5);
  });
});

describe('what the dashboard draws', () => {
  it('one line per slot: requests per second over each second\'s length; a replaced worker\'s two points add up', () => {
    const state = run([message('reset', [
      column(0, [pt(11, 1, 4), pt(12, 2, 2)]),
      column(1, [pt(11, 1, 3), pt(13, 1, 1), pt(12, 2, null)], 2000), // a late tick: a 2 s second
    ])]);
    const series = seriesOf(state.live, 5);
    assert.deepStrictEqual(series.slots, [1, 2]);
    assert.deepStrictEqual(series.x, [T0 / 1000, T0 / 1000 + 1]);
    assert.deepStrictEqual(series.requestsPerSecond, [[4, 2], [2, null]]);
    assert.deepStrictEqual(series.totalPerSecond, [6, 2]);
    assert.deepStrictEqual(series.rssMb[0], [50, 50]);
    const totals = totalsOf(state.live, 5);
    assert.strictEqual(totals.requests, 10);
    assert.deepStrictEqual([...totals.bySlot], [[1, 8], [2, 2]]);
  });

  it('the window leaves out the seconds before it', () => {
    const columns = Array.from({ length: 120 }, (_, s) => column(s, [pt(11, 1, 1)]));
    const state = run([message('reset', columns)]);
    assert.strictEqual(seriesOf(state.live, 1).x.length, 60);
    assert.strictEqual(totalsOf(state.live, 1).requests, 60);
    assert.strictEqual(totalsOf(state.live, 5).requests, 120);
  });

  it('markers say what happened; the tables sort the oldest in flight and the slowest first', () => {
    const events: EventData[] = [
      { seq: 0, kind: 'exit', at: T0, slot: 2, pid: 12, reason: 'WORKER TIMEOUT (GET /report, 31.0 s; exited with code 1)', timedOut: true },
      { seq: 1, kind: 'reload', at: T0, outcome: 'failed', generation: 1, file: '/app/main.py', line: 4, message: 'NameError: x' },
      { seq: 2, kind: 'reload', at: T0, outcome: 'started', generation: 2 },
      { seq: 3, kind: 'scale', at: T0, from: 2, to: 4 },
    ];
    const slowest: SlowData[] = [10, 300, 45].map((ms, seq) => ({ seq, at: T0, slot: 1, pid: 11, method: 'GET', path: `/p${ms}`, status: 200, ms }));
    const inFlight = [{ slot: 1, pid: 11, method: 'GET', path: '/new', startedAt: T0 - 100 }, { slot: 2, pid: 12, method: 'POST', path: '/old', startedAt: T0 - 9000 }];
    const state = run([message('reset', [column(0, [])], { events, slowest, inFlight, now: T0 })]);
    assert.deepStrictEqual(markersOf(state.live, 5).map((m) => [m.kind, m.text]), [
      ['exit', 'worker 2 (pid 12) WORKER TIMEOUT (GET /report, 31.0 s; exited with code 1)'],
      ['reload-failed', 'reload failed at /app/main.py:4: NameError: x (generation 1 serves)'],
      ['scale', 'scaled from 2 to 4 workers'],
    ]);
    assert.deepStrictEqual(inFlightRows(state.live).map((r) => [r.path, r.ageMs]), [['/old', 9000], ['/new', 100]]);
    assert.deepStrictEqual(slowestRows(state.live, 5, 2).map((r) => r.ms), [300, 45]);
    assert.deepStrictEqual([formatDuration(412.4), formatDuration(3200), formatDuration(125_000)], ['412 ms', '3.2 s', '2 min 05 s']);
  });
});

describe('the dashboard protocol', () => {
  it('what the page sends is checked; anything else is not a message', () => {
    assert.deepStrictEqual(parsePageMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepStrictEqual(parsePageMessage({ type: 'row', action: 'showStack', slot: 2 }), { type: 'row', action: 'showStack', slot: 2 });
    for (const bad of [null, 'ready', { type: 'row', action: 'rm', slot: 1 }, { type: 'row', action: 'showLogs', slot: 0 }, { type: 'row', action: 'showLogs', slot: 1.5 }, { type: 'eval' }]) {
      assert.strictEqual(parsePageMessage(bad), undefined, JSON.stringify(bad));
    }
    assert.strictEqual(parsePageState({ serverName: '' }), undefined);
    assert.deepStrictEqual(parsePageState({ serverName: 'api', hidden: [1, 'x'] }), { serverName: 'api', hidden: [1] });
  });
});

describe('the dashboard feed (host side)', () => {
  it('flattens a second, NaN as null; sends the whole history on reset and only what is new on append', () => {
    assert.deepStrictEqual(columnData({ seq: 4, time: T0, durationMs: 1000, points: [{ pid: 11, slot: 1, requests: 3, status4xx: 0, status5xx: NaN, p50Ms: 1.23456, p99Ms: NaN, inFlight: 1, cpuPercent: 2.5, rssBytes: 1000.4 }] }),
      { seq: 4, t: T0, d: 1000, p: [11, 1, 3, 0, null, 1.235, null, 1, 2.5, 1000] });
    const supervisor = new Supervisor(resolveDefinition({ app: 'main:app', name: 'api' }, { defaultPython: 'python3', defaultCwd: '/tmp', defaultWorkers: 1 }));
    const point = { pid: 11, slot: 1, requests: 1, status4xx: 0, status5xx: 0, p50Ms: 1, p99Ms: 2, inFlight: 0, cpuPercent: 1, rssBytes: 1 };
    supervisor.history.figures.append(T0, 1000, [point]);
    supervisor.history.events.add({ kind: 'scale', at: T0, from: 1, to: 2 });
    const feed = new DashboardFeed('api', supervisor);
    const reset = feed.reset(T0);
    assert.deepStrictEqual([reset.type, reset.columns.length, reset.events.length, reset.server.state], ['reset', 1, 1, 'stopped']);
    assert.deepStrictEqual(feed.append(T0).columns, [], 'nothing new');
    supervisor.history.figures.append(T0 + 1000, 1000, [point]);
    assert.deepStrictEqual(feed.append(T0).columns.map((c) => c.seq), [1]);
    assert.strictEqual(feed.reset(T0).columns.length, 2, 'a page that appears again gets everything');
    const none = new DashboardFeed('gone', undefined).reset(T0);
    assert.deepStrictEqual(none.server, { name: 'gone', state: 'stopped', workers: [] });
    supervisor.history.dispose();
  });
});
