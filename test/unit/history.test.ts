import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { Emitter } from '../../src/core/events';
import { FigureRing, type WorkerPoint } from '../../src/core/history/figureRing';
import { type HistoryClock, ServerHistory } from '../../src/core/history/serverHistory';
import type { ServerModel, ServerState, WorkerInsight, WorkerModel } from '../../src/core/model';
import type { ReloadEvent } from '../../src/core/reload/reloadTypes';
import type { WorkerEvent } from '../../src/core/serverEvents';

const MB = 1024 * 1024;

function point(pid: number, slot: number, requests = 1): WorkerPoint {
  return { pid, slot, requests, status4xx: 0, status5xx: 0, p50Ms: 5, p99Ms: 9, inFlight: 1, cpuPercent: 3, rssBytes: 50 * MB };
}

/** A wall clock and a monotonic clock that the test moves, and the history's timer run by hand. */
class TestClock implements HistoryClock {
  wall = Date.UTC(2026, 0, 1, 12, 0, 0, 0);
  mono = 1000;
  private timers: Array<{ at: number; run: () => void }> = [];
  now = () => this.wall;
  monotonic = () => this.mono;
  schedule = (run: () => void, delayMs: number) => {
    const timer = { at: this.mono + delayMs, run };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((t) => t !== timer));
  };
  /** Time passes on both clocks; the timers due run. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.wall += due.at - this.mono;
      this.mono = due.at;
      this.timers = this.timers.filter((t) => t !== due);
      due.run();
    }
    this.wall += end - this.mono;
    this.mono = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}

function insight(served: number, fields: Partial<WorkerInsight> = {}): WorkerInsight {
  return {
    served, rate: 0, p50Ms: null, p99Ms: null, latencyCount: 0, statuses: { '1xx': 0, '2xx': served, '3xx': 0, '4xx': 0, '5xx': 0 },
    exceptions: 0, inFlight: 0, requests: [], ...fields,
  };
}

function worker(slot: number, pid: number, fields: Partial<WorkerModel> = {}): WorkerModel {
  return { slot, pid, state: 'ready', startedAt: 0, cpuPercent: 10, rssBytes: 40 * MB, restarts: 0, debugging: false, generation: 1, ...fields };
}

/** A supervisor's emitters, and a model it publishes. */
class Source {
  readonly onDidChange = new Emitter<ServerModel>();
  readonly onWorker = new Emitter<WorkerEvent>();
  readonly onReload = new Emitter<ReloadEvent>();
  publish(state: ServerState, workers: WorkerModel[], desiredWorkers = workers.length): void {
    this.onDidChange.fire({
      id: 's', name: 'api', kind: 'gunicorn', state, url: '', desiredWorkers, workers, retiring: [], incoming: [], reload: { onSave: false, generation: 1 },
    });
  }
}

function running(): { clock: TestClock; source: Source; history: ServerHistory } {
  const clock = new TestClock();
  const source = new Source();
  const history = new ServerHistory(source, { clock });
  source.publish('starting', [], 2);
  source.publish('running', [worker(1, 101, { insight: insight(0) }), worker(2, 102, { insight: insight(0) })]);
  return { clock, source, history };
}

describe('the figure ring', () => {
  it('holds 64 workers x 15 minutes in a few MB, and no more however long it runs', () => {
    const ring = new FigureRing();
    const points = Array.from({ length: 64 }, (_, i) => point(1000 + i, i + 1));
    for (let second = 0; second < 900; second++) ring.append(second * 1000, 1000, points);
    const full = ring.bytes();
    assert.ok(full < 4 * MB, `${(full / MB).toFixed(2)} MB`);
    for (let second = 900; second < 2700; second++) ring.append(second * 1000, 1000, points);
    assert.strictEqual(ring.bytes(), full, 'no growth once full');
    assert.strictEqual(ring.size, 900);
    const columns = ring.read();
    assert.strictEqual(columns.length, 900);
    assert.strictEqual(columns[0].time, 1800 * 1000, 'the oldest seconds went');
    assert.strictEqual(columns.at(-1)!.time, 2699 * 1000);
    assert.deepStrictEqual(columns.at(-1)!.points[63], point(1063, 64));
  });

  it('keeps every point across the growth of its arrays, and drops the oldest seconds when points run out', () => {
    const ring = new FigureRing({ seconds: 100, pointsPerSecond: 4 });
    for (let second = 0; second < 30; second++) {
      ring.append(second, 1000, Array.from({ length: second % 7 }, (_, i) => point(second * 10 + i, i + 1, second)));
    }
    for (const column of ring.read()) {
      assert.deepStrictEqual(column.points.map((p) => p.pid), Array.from({ length: column.time % 7 }, (_, i) => column.time * 10 + i));
      assert.ok(column.points.every((p) => p.requests === column.time));
    }
    // 400 points at most: 100 seconds of 8 workers do not fit, the newest 50 do
    for (let second = 0; second < 100; second++) ring.append(1000 + second, 1000, Array.from({ length: 8 }, (_, i) => point(i + 1, i + 1)));
    assert.strictEqual(ring.size, 50);
    assert.strictEqual(ring.read()[0].time, 1050);
    assert.ok(ring.bytes() < 400 * 40 + 100 * 30);
  });

  it('reads from a sequence number on, as a reader that saw the earlier seconds does', () => {
    const ring = new FigureRing({ seconds: 10 });
    for (let second = 0; second < 25; second++) ring.append(second, 1000, [point(1, 1, second)]);
    assert.deepStrictEqual(ring.read(22).map((c) => c.seq), [22, 23, 24]);
    assert.deepStrictEqual(ring.read(3).map((c) => c.seq), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24], 'a reader too far behind gets what is held');
    assert.strictEqual(ring.endSeq, 25);
  });
});

describe('the server history', () => {
  it('writes one column a second, half a second past the turn, from the difference of the agents\' counts', () => {
    const { clock, source, history } = running();
    clock.advance(1000);
    source.publish('running', [worker(1, 101, { insight: insight(7, { inFlight: 2 }) }), worker(2, 102, { insight: insight(3) })]);
    clock.advance(1000);
    source.publish('running', [worker(1, 101, { insight: insight(9) }), worker(2, 102, { insight: insight(3) })]);
    clock.advance(1000);
    const columns = history.figures.read();
    assert.ok(columns.length >= 3, `${columns.length} columns`);
    const [, second, third] = columns.slice(-3);
    assert.deepStrictEqual(second.points.map((p) => [p.pid, p.requests, p.inFlight]), [[101, 7, 2], [102, 3, 0]]);
    assert.deepStrictEqual(third.points.map((p) => [p.pid, p.requests]), [[101, 2], [102, 0]]);
    assert.strictEqual(third.time - second.time, 1000);
    assert.strictEqual(third.time % 1000, 0);
  });

  it('a worker replaced in the middle of a second: its last requests, its exit, and its successor\'s own series', () => {
    const { clock, source, history } = running();
    source.publish('running', [worker(1, 101, { insight: insight(5) }), worker(2, 102, { insight: insight(0) })]);
    clock.advance(1000);
    const exited = worker(1, 101, { state: 'exited', insight: insight(8), lastExit: { code: null, signal: 'SIGKILL', timedOut: false, text: 'killed by SIGKILL' } });
    source.publish('running', [exited, worker(2, 102, { insight: insight(0) })]);
    source.onWorker.fire({ type: 'exit', worker: exited });
    const successor = worker(1, 103, { restarts: 1, insight: insight(4) });
    source.onWorker.fire({ type: 'up', worker: successor });
    source.publish('running', [successor, worker(2, 102, { insight: insight(0) })]);
    clock.advance(1000);
    source.publish('running', [worker(1, 103, { restarts: 1, insight: insight(6) }), worker(2, 102, { insight: insight(0) })]);
    clock.advance(1000);
    const [before, during, after] = history.figures.read().slice(-3);
    assert.deepStrictEqual(before.points.find((p) => p.pid === 101)?.requests, 5);
    assert.deepStrictEqual(during.points.filter((p) => p.slot === 1).map((p) => [p.pid, p.requests, Number.isNaN(p.cpuPercent)]), [[101, 3, true], [103, 4, false]]);
    assert.deepStrictEqual(after.points.filter((p) => p.slot === 1).map((p) => [p.pid, p.requests]), [[103, 2]], 'the gone worker has no more points');
    const events = history.events.read().filter((e) => e.kind === 'exit' || e.kind === 'replaced');
    assert.deepStrictEqual(events.map((e) => ({ ...e, at: 0, seq: 0 })), [
      { kind: 'exit', at: 0, seq: 0, slot: 1, pid: 101, reason: 'killed by SIGKILL', timedOut: false },
      { kind: 'replaced', at: 0, seq: 0, slot: 1, pid: 103, restarts: 1 },
    ]);
  });

  it('a scale is an event, and the new worker\'s series begins; a scale\'s clean exits are no markers', () => {
    const { clock, source, history } = running();
    source.publish('scaling', [worker(1, 101, { insight: insight(0) }), worker(2, 102, { insight: insight(0) })], 3);
    source.publish('scaling', [worker(1, 101, { insight: insight(0) }), worker(2, 102, { insight: insight(0) }), worker(3, 104, { insight: insight(2) })], 3);
    source.publish('running', [worker(1, 101, { insight: insight(0) }), worker(2, 102, { insight: insight(0) }), worker(3, 104, { insight: insight(2) })], 3);
    clock.advance(1000);
    source.publish('scaling', [worker(1, 101, { insight: insight(0) }), worker(2, 102, { insight: insight(0) }), worker(3, 104, { insight: insight(2) })], 2);
    const gone = worker(3, 104, { state: 'exited', insight: insight(2), lastExit: { code: 0, signal: null, timedOut: false, text: 'exited with code 0' } });
    source.onWorker.fire({ type: 'exit', worker: gone });
    source.publish('running', [worker(1, 101, { insight: insight(0) }), worker(2, 102, { insight: insight(0) })], 2);
    clock.advance(1000);
    const scales = history.events.read().filter((e) => e.kind === 'scale').map((e) => e.kind === 'scale' && [e.from, e.to]);
    assert.deepStrictEqual(scales, [[2, 3], [3, 2]]);
    assert.ok(!history.events.read().some((e) => e.kind === 'exit'), 'no exit marker for a scale-down');
    const [grown, shrunk] = history.figures.read().slice(-2);
    assert.deepStrictEqual(grown.points.map((p) => p.slot), [1, 2, 3]);
    assert.deepStrictEqual(shrunk.points.map((p) => p.slot), [1, 2]);
  });

  it('a wall clock that steps back or forward moves the past with it: the seconds stay in order and end now', () => {
    const { clock, source, history } = running();
    clock.advance(3000);
    const before = history.figures.read().map((c) => c.time);
    const eventTimes = history.events.read().map((e) => e.at);
    clock.wall -= 3600_000; // an hour back
    clock.advance(1000);
    const after = history.figures.read();
    const times = after.map((c) => c.time);
    assert.ok(times.every((t, i) => i === 0 || t > times[i - 1]), `in order: ${times.join(', ')}`);
    assert.ok(times.at(-1)! > clock.wall - 2000 && times.at(-1)! <= clock.wall, 'the newest second is now, on the new clock');
    assert.deepStrictEqual(times.slice(0, before.length), before.map((t) => t - 3600_000));
    assert.deepStrictEqual(history.events.read().map((e) => e.at), eventTimes.map((t) => t - 3600_000));
    clock.wall += 7200_000; // two hours forward: no hour of empty seconds
    clock.advance(1000);
    const forward = history.figures.read();
    assert.strictEqual(forward.length, after.length + 1);
    assert.strictEqual(forward.at(-1)!.time - forward.at(-2)!.time, 1000);
    source.publish('stopped', []);
  });

  it('each second\'s latency is that second\'s, counted once; the slowest requests are logged with their worker', () => {
    const { clock, source, history } = running();
    const interval = { count: 3, p50Ms: 12, p99Ms: 250, slowest: [{ method: 'GET', path: '/report', status: 200, ms: 250, endedAt: clock.wall }] };
    const summary = insight(3, { interval });
    source.publish('running', [worker(1, 101, { insight: summary }), worker(2, 102, { insight: insight(0) })]);
    source.publish('running', [worker(1, 101, { insight: summary }), worker(2, 102, { insight: insight(0) })]);
    clock.advance(1000);
    clock.advance(1000);
    const [first, second] = history.figures.read().slice(-2).map((c) => c.points[0]);
    assert.deepStrictEqual([first.p50Ms, first.p99Ms], [12, 250]);
    assert.ok(Number.isNaN(second.p50Ms) && Number.isNaN(second.p99Ms), 'no new summary: no latency');
    assert.deepStrictEqual(history.slowest.read().map(({ slot, pid, path, ms }) => ({ slot, pid, path, ms })), [{ slot: 1, pid: 101, path: '/report', ms: 250 }]);
  });

  it('stops ticking when the server stops, with an event; a start ticks again', () => {
    const { clock, source, history } = running();
    clock.advance(2000);
    source.publish('stopping', []);
    source.publish('stopped', []);
    const count = history.figures.size;
    assert.strictEqual(clock.pending, 0);
    clock.advance(5000);
    assert.strictEqual(history.figures.size, count);
    source.publish('starting', [], 1);
    source.publish('running', [worker(1, 201, { insight: insight(1) })]);
    clock.advance(1000);
    assert.deepStrictEqual(history.figures.newest()!.points.map((p) => [p.pid, p.requests]), [[201, 1]]);
    assert.deepStrictEqual(history.events.read().filter((e) => e.kind === 'state').map((e) => e.kind === 'state' && e.state), ['running', 'stopped', 'running']);
    history.dispose();
    assert.strictEqual(source.onDidChange.listenerCount, 0);
  });
});
