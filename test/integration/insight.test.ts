/**
 * Request insight against real servers and real HTTP: requests of known latency and status to each kind of worker;
 * the per-worker counts add up to the requests sent, statuses are classified, the percentiles bracket the known
 * durations, and a request in flight shows with its path and a growing age.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import type { SlowRequest, WorkerModel } from '../../src/core/model';
import { compareVersions, detectEnvironment } from '../../src/core/pythonEnvironment';
import { sumInsights } from '../../src/core/workers/insight';
import { oldUvicornPython, testPython } from '../support/paths';
import { hanging, statusOf, workerServing } from './insightSupport';
import { createServer, eventually, stopAndCheck, type TestServer } from './support';

const SERVERS: Array<{ name: string; definition: Partial<ServerDefinition> }> = [
  { name: 'gunicorn + uvicorn_worker.UvicornWorker', definition: { app: 'insight_asgi:app', workerClass: 'uvicorn_worker.UvicornWorker' } },
  { name: 'gunicorn sync', definition: { app: 'insight_wsgi:app', workerClass: 'sync' } },
  { name: 'gunicorn gthread', definition: { app: 'insight_wsgi:app', workerClass: 'gthread', args: ['--threads', '4'] } },
  { name: 'gunicorn asgi (its own ASGI worker; before Gunicorn 24, refused, saying so)', definition: { app: 'insight_asgi:app', workerClass: 'asgi' } },
  { name: 'uvicorn --workers', definition: { server: 'uvicorn', app: 'insight_asgi:app' } },
  { name: 'uvicorn 0.29 --workers', definition: { server: 'uvicorn', app: 'insight_asgi:app', python: oldUvicornPython } },
];

const SLEEP_MS = 200;
const LONG_MS = 3000;
/** A latency bucket is about 6 % wide; a handler's sleep overshoots by a few ms on a loaded machine. */
const brackets = (p: number | null | undefined, ms: number) => p !== null && p !== undefined && p >= ms * 0.95 && p <= ms * 1.1 + 60;

function live(server: TestServer): WorkerModel[] {
  return server.supervisor.model().workers.filter((w) => w.state !== 'exited');
}

/** `count` requests, `concurrency` at a time; the pid each one's body names, counted. */
async function send(port: number, pathname: string, count: number, concurrency: number, byPid: Map<number, number>): Promise<number[]> {
  const statuses: number[] = [];
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      const { status, pid } = await statusOf(port, pathname);
      statuses.push(status);
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return statuses;
}

describe('request insight', { timeout: 240000 }, () => {
  for (const { name, definition } of SERVERS) {
    it(`${name}: counts, statuses, latency percentiles and the request in flight, per worker`, async () => {
      const server = await createServer({ ...definition, workers: 2 });
      const gunicorn = (await detectEnvironment(testPython)).packages.gunicorn;
      if (definition.workerClass === 'asgi' && gunicorn && compareVersions(gunicorn, '24') < 0) {
        // Gunicorn 23 (the last for Python 3.9) has no asgi worker.
        await assert.rejects(server.supervisor.start(), (error: Error) =>
          /Gunicorn's native "asgi" worker needs Gunicorn 24 or later/.test(error.message) && error.message.includes(`has Gunicorn ${gunicorn}.`));
        await stopAndCheck(server);
        return;
      }
      try {
        await server.supervisor.start();
        const byPid = new Map<number, number>();
        const served = () => live(server).reduce((sum, w) => sum + (w.insight?.served ?? 0), 0);
        // Each summary's slowest requests of its interval (the model keeps only a worker's latest summary).
        const slowest: SlowRequest[] = [];
        const seen = new Set<object>();
        server.supervisor.onDidChange.on((model) => {
          for (const interval of model.workers.flatMap((w) => (w.insight?.interval ? [w.insight.interval] : []))) {
            if (!seen.has(interval)) slowest.push(...interval.slowest);
            seen.add(interval);
          }
        });

        const sleeps = await send(server.port, `/sleep?s=${SLEEP_MS / 1000}`, 12, 4, byPid);
        assert.deepStrictEqual(sleeps, Array(12).fill(200));
        await eventually('12 requests counted', () => served() === 12);
        for (const worker of live(server).filter((w) => w.insight!.latencyCount > 0)) {
          assert.ok(brackets(worker.insight!.p50Ms, SLEEP_MS), `worker ${worker.slot}'s p50 ${worker.insight!.p50Ms} ms brackets ${SLEEP_MS} ms`);
          assert.ok(brackets(worker.insight!.p99Ms, SLEEP_MS), `worker ${worker.slot}'s p99 ${worker.insight!.p99Ms} ms brackets ${SLEEP_MS} ms`);
        }

        assert.deepStrictEqual(await send(server.port, '/status?code=404', 3, 1, byPid), [404, 404, 404]);
        assert.deepStrictEqual(await send(server.port, '/status?code=302', 2, 1, byPid), [302, 302]);
        assert.deepStrictEqual(await send(server.port, '/raise', 1, 1, byPid), [500]);

        const long = hanging(server.port, `/sleep?s=${LONG_MS / 1000}`);
        let busy: WorkerModel | undefined;
        await eventually('the request in flight shows', () => (busy = workerServing(server.supervisor.model().workers, '/sleep')) !== undefined);
        const request = busy!.insight!.requests.find((r) => r.path === '/sleep')!;
        assert.strictEqual(request.method, 'GET');
        assert.strictEqual(request.path, '/sleep', 'the path, without its query string');
        const firstAge = Date.now() - request.startedAt;
        assert.ok(firstAge >= 0 && firstAge < LONG_MS, `age ${firstAge} ms`);
        await new Promise((resolve) => setTimeout(resolve, 1200));
        const again = server.supervisor.model().workers.find((w) => w.pid === busy!.pid)!.insight!.requests.find((r) => r.path === '/sleep')!;
        assert.ok(Date.now() - again.startedAt >= firstAge + 1000, 'its age grows');
        assert.strictEqual(await long.done, 200);
        byPid.set(busy!.pid, (byPid.get(busy!.pid) ?? 0) + 1);

        const sent = 12 + 3 + 2 + 1 + 1;
        await eventually(`${sent} requests counted, none in flight`, () => served() === sent && live(server).every((w) => w.insight?.inFlight === 0));
        const workers = live(server);
        const unanswered = byPid.get(0) ?? 0; // the 500 of /raise carries no pid
        for (const worker of workers) {
          const counted = worker.insight!.served;
          const answered = byPid.get(worker.pid) ?? 0;
          assert.ok(counted === answered || counted === answered + unanswered, `worker ${worker.slot} counted ${counted}, its bodies say ${answered}`);
        }
        const totals = sumInsights(workers)!;
        assert.strictEqual(totals.served, sent, 'the per-worker counts add up to the requests sent');
        for (const worker of workers) {
          const histogram = worker.insight!.durations!;
          assert.strictEqual(histogram.counts.reduce((a, b) => a + b, 0), worker.insight!.served, `worker ${worker.slot}'s histogram counts every request it served`);
        }
        const histogramSum = workers.reduce((sum, w) => sum + w.insight!.durations!.sumSeconds, 0);
        assert.ok(histogramSum >= (12 * SLEEP_MS + LONG_MS) / 1000, `the durations add up to at least the sleeps (${histogramSum} s)`);
        const slowestLong = slowest.find((r) => r.path === '/sleep' && r.ms >= LONG_MS);
        assert.ok(slowestLong, `the ${LONG_MS} ms request is among its interval's slowest: ${JSON.stringify(slowest.slice(0, 8))}`);
        assert.strictEqual(slowestLong.status, 200);
        assert.deepStrictEqual(totals.statuses, { '1xx': 0, '2xx': 13, '3xx': 2, '4xx': 3, '5xx': 1 });
        assert.strictEqual(totals.exceptions, 1);
        assert.ok(brackets(totals.worstP99Ms, LONG_MS), `the worst p99 ${totals.worstP99Ms} ms brackets the ${LONG_MS} ms request`);
        assert.ok(workers.every((w) => w.insight!.requests.length === 0));
      } finally {
        await stopAndCheck(server);
      }
    });
  }

  it('insight: false wraps nothing: no figures in the model, the worker serves as before', async () => {
    const server = await createServer({ server: 'uvicorn', app: 'insight_asgi:app', workers: 1, insight: false });
    try {
      await server.supervisor.start();
      assert.deepStrictEqual(await send(server.port, '/status?code=204', 3, 1, new Map()), [204, 204, 204]);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(live(server).every((w) => w.insight === undefined), 'no worker has figures');
    } finally {
      await stopAndCheck(server);
    }
  });
});
