import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { WorkerModel } from '../../src/core/model';
import { ExitEvidence } from '../../src/core/workers/exitEvidence';
import { nearTimeout, oldestRequest, parseInsight, sumInsights, WorkerInsights } from '../../src/core/workers/insight';

const summary = (fields: Record<string, unknown> = {}) => ({
  t: 'insight',
  served: 10,
  rate: 2.5,
  p50Ms: 12.5,
  p99Ms: 40,
  latencyCount: 10,
  statuses: { '1xx': 0, '2xx': 8, '3xx': 0, '4xx': 1, '5xx': 1 },
  exceptions: 1,
  inFlight: 1,
  requests: [{ method: 'GET', path: '/report', startedAt: 1000 }],
  ...fields,
});

const worker = (slot: number, message: Record<string, unknown>, state: WorkerModel['state'] = 'ready'): WorkerModel => ({
  slot, pid: 100 + slot, state, startedAt: 0, cpuPercent: 0, rssBytes: 0, restarts: 0, debugging: false, generation: 1,
  insight: parseInsight({ ...summary(), ...message }),
});

describe('request insight (core)', () => {
  it('reads a summary field by field; a malformed one is not a summary', () => {
    const insight = parseInsight(summary({ timeoutSeconds: 30 }))!;
    assert.strictEqual(insight.served, 10);
    assert.deepStrictEqual(insight.requests, [{ method: 'GET', path: '/report', startedAt: 1000 }]);
    assert.strictEqual(insight.timeoutSeconds, 30);
    assert.ok(Object.isFrozen(insight) && Object.isFrozen(insight.requests));
    assert.strictEqual(parseInsight(summary({ served: -1 })), undefined);
    assert.strictEqual(parseInsight(summary({ statuses: null })), undefined);
    assert.strictEqual(parseInsight({ ...summary(), t: 'ready' }), undefined);
    const odd = parseInsight(summary({ p99Ms: 'slow', requests: [{ method: 'GET' }, 'x', { method: 'PUT', path: '/a', startedAt: 5 }], statuses: { '2xx': 'many' } }))!;
    assert.strictEqual(odd.p99Ms, null);
    assert.deepStrictEqual(odd.requests.map((r) => r.path), ['/a']);
    assert.strictEqual(odd.statuses['2xx'], 0);
    assert.strictEqual(parseInsight(summary({ requests: Array(50).fill({ method: 'GET', path: '/', startedAt: 1 }) }))!.requests.length, 20);
  });

  it('reads the duration histogram and the interval\'s slowest requests; a malformed one is left out, the summary kept', () => {
    const durations = { le: [0.01, 0.1, 1], counts: [3, 2, 1, 0], sumSeconds: 1.42 };
    const slow = { method: 'GET', path: '/report', status: 200, ms: 812.5, endedAt: 5000 };
    const insight = parseInsight(summary({ durations, interval: { count: 6, p50Ms: 9.5, p99Ms: 812, slowest: [slow, { method: 'GET' }] } }))!;
    assert.deepStrictEqual(insight.durations, durations);
    assert.deepStrictEqual(insight.interval, { count: 6, p50Ms: 9.5, p99Ms: 812, slowest: [slow] });
    assert.ok(Object.isFrozen(insight.durations.counts) && Object.isFrozen(insight.interval.slowest));
    for (const bad of [
      { ...durations, counts: [3, 2, 1] }, // no +Inf bucket
      { ...durations, le: [0.1, 0.01, 1] }, // bounds not increasing
      { ...durations, counts: [3, 2, 1.5, 0] },
      { ...durations, sumSeconds: -1 },
      'histogram',
    ]) {
      const read = parseInsight(summary({ durations: bad }))!;
      assert.strictEqual(read.served, 10, 'the rest of the summary stands');
      assert.strictEqual(read.durations, undefined, JSON.stringify(bad));
    }
    assert.strictEqual(parseInsight(summary({ interval: { count: 'x' } }))!.interval, undefined);
    const many = Array(9).fill(slow);
    assert.strictEqual(parseInsight(summary({ interval: { count: 9, p50Ms: null, p99Ms: 'x', slowest: many } }))!.interval!.slowest.length, 5);
  });

  it('a server sums its live workers\' figures and keeps the worst p99', () => {
    const totals = sumInsights([worker(1, { p99Ms: 40 }), worker(2, { served: 5, rate: 1.2, p99Ms: 90, inFlight: 0 }), worker(3, { served: 99, p99Ms: 500 }, 'exited')])!;
    assert.strictEqual(totals.workers, 2);
    assert.strictEqual(totals.served, 15);
    assert.strictEqual(totals.rate, 3.7);
    assert.strictEqual(totals.inFlight, 1);
    assert.strictEqual(totals.worstP99Ms, 90);
    assert.deepStrictEqual(totals.statuses, { '1xx': 0, '2xx': 16, '3xx': 0, '4xx': 2, '5xx': 2 });
    assert.strictEqual(sumInsights([{ ...worker(1, {}), insight: undefined }]), undefined);
  });

  it('the oldest request marks the worker past half of Gunicorn\'s timeout', () => {
    const insight = parseInsight(summary({ timeoutSeconds: 30 }));
    assert.deepStrictEqual(oldestRequest(insight, 4000), { request: { method: 'GET', path: '/report', startedAt: 1000 }, ageMs: 3000 });
    assert.strictEqual(nearTimeout(insight, 1000 + 15000), false);
    assert.strictEqual(nearTimeout(insight, 1000 + 15001), true);
    assert.strictEqual(nearTimeout(parseInsight(summary()), 1e9), false, 'no timeout (Uvicorn): never marked');
    assert.strictEqual(nearTimeout(parseInsight(summary({ timeoutSeconds: 0 })), 1e9), false, 'timeout 0 is off');
  });

  it('a timed-out worker\'s exit reason names the request it was on, also after its successor came', () => {
    const insights = new WorkerInsights();
    insights.record(11, summary());
    assert.strictEqual(insights.requestAt(11, 32000), 'GET /report, 31.0 s');
    assert.strictEqual(insights.requestAt(12, 32000), undefined);
    const evidence = new ExitEvidence(() => undefined);
    evidence.observeLine('[2026-11-30 05:00:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:11)');
    const reason = evidence.reasonFor(11, { code: 1, signal: null }, insights.requestAt(11, 32000));
    assert.deepStrictEqual(reason, { code: 1, signal: null, timedOut: true, request: 'GET /report, 31.0 s', text: 'WORKER TIMEOUT (GET /report, 31.0 s; exited with code 1)' });
    evidence.healthCheckFailed(13);
    assert.strictEqual(evidence.reasonFor(13, { code: null, signal: 'SIGKILL' }).text, 'HEALTH CHECK FAILED (killed by SIGKILL)');
    assert.strictEqual(evidence.reasonFor(14, { code: null, signal: 'SIGKILL' }, 'GET /, 1.0 s').text, 'killed by SIGKILL', 'a request is named only for a timeout');
  });
});
