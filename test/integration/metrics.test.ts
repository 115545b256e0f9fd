/**
 * The metrics endpoint against real Gunicorn and Uvicorn servers under known traffic, its answer read by
 * prometheus_client's own text parser: the per-worker counts add up to the requests sent, the histograms count them,
 * the labels carry the live pids (a killed worker's series ends, its successor's starts); the history's seconds add
 * up to the same; the CLI's --metrics serves it, and a port in use fails the run naming who holds it.
 */
import * as assert from 'node:assert';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import { MetricsEndpoint } from '../../src/core/metrics/metricsEndpoint';
import { isAlive } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { pidsIn, run } from './cliSupport';
import { samplesNamed, scrape, sumOf } from './metricsSupport';
import { burst, createServer, eventually, freePort, stopAndCheck, type TestServer } from './support';

const SERVERS: Array<{ name: string; definition: Partial<ServerDefinition> }> = [
  { name: 'gunicorn (UvicornWorker)', definition: { app: 'insight_asgi:app' } },
  { name: 'gunicorn sync', definition: { app: 'insight_wsgi:app', workerClass: 'sync' } },
  { name: 'uvicorn --workers', definition: { server: 'uvicorn', app: 'insight_asgi:app' } },
];
const WORKERS = 3;
const REQUESTS = 90;

function livePids(server: TestServer): number[] {
  return server.supervisor.model().workers.filter((w) => w.state !== 'exited').map((w) => w.pid).sort((a, b) => a - b);
}

function servedInModel(server: TestServer): number {
  return server.supervisor.model().workers.reduce((sum, w) => sum + (w.state === 'exited' ? 0 : w.insight?.served ?? 0), 0);
}

describe('metrics endpoint', { timeout: 240000 }, () => {
  for (const { name, definition } of SERVERS) {
    it(`${name}: per-worker counts and histograms add up to the requests sent, labelled with the live pids`, async () => {
      const server = await createServer({ ...definition, workers: WORKERS });
      let endpoint: MetricsEndpoint | undefined;
      try {
        await server.supervisor.start();
        endpoint = await MetricsEndpoint.listen({ host: '127.0.0.1', port: await freePort() }, () => [server.supervisor.model()], '--metrics');
        const byPid = await burst(server.port, '/pid', REQUESTS, 6);
        await eventually(`${REQUESTS} requests counted`, () => servedInModel(server) === REQUESTS);

        const families = await scrape(endpoint.url);
        const requests = samplesNamed(families, 'server_workers_requests_total');
        assert.strictEqual(sumOf(requests), REQUESTS, 'the per-worker counts add up to the requests sent');
        assert.strictEqual(sumOf(requests.filter((s) => s.labels.status_class === '2xx')), REQUESTS);
        for (const [pid, count] of byPid) {
          assert.strictEqual(sumOf(requests.filter((s) => s.labels.pid === String(pid))), count, `pid ${pid} served ${count}, its bodies say`);
        }
        const counts = samplesNamed(families, 'server_workers_request_duration_seconds_count');
        assert.strictEqual(sumOf(counts), REQUESTS, 'the histograms count every request');
        const infinite = samplesNamed(families, 'server_workers_request_duration_seconds_bucket').filter((s) => s.labels.le === '+Inf');
        assert.deepStrictEqual(infinite.map((s) => s.value), counts.map((s) => s.value), 'each +Inf bucket equals its count');
        const live = livePids(server);
        const labelled = [...new Set(requests.map((s) => Number(s.labels.pid)))].sort((a, b) => a - b);
        assert.deepStrictEqual(labelled, live, 'one series per live worker');
        assert.ok(live.every(isAlive));
        assert.deepStrictEqual(samplesNamed(families, 'server_workers_worker_cpu_seconds_total').map((s) => Number(s.labels.pid)).sort((a, b) => a - b), live);
        assert.ok(samplesNamed(families, 'server_workers_worker_resident_memory_bytes').every((s) => typeof s.value === 'number' && s.value > 1e6));
        assert.deepStrictEqual(samplesNamed(families, 'server_workers_workers').find((s) => s.labels.state === 'ready')?.value, WORKERS);

        // The history's seconds hold the same requests (once the second after the last is written).
        const history = server.supervisor.history;
        const inHistory = () => history.figures.read().reduce((sum, c) => sum + c.points.reduce((s, p) => s + (Number.isNaN(p.requests) ? 0 : p.requests), 0), 0);
        await eventually('the history to count every request', () => inHistory() === REQUESTS, 5000);

        const victim = server.supervisor.model().workers.find((w) => w.slot === 1)!;
        await server.supervisor.killWorker(1);
        const successor = server.supervisor.model().workers.find((w) => w.slot === 1)!;
        const after = await scrape(endpoint.url);
        const pidsAfter = [...new Set(samplesNamed(after, 'server_workers_worker_resident_memory_bytes').map((s) => Number(s.labels.pid)))].sort((a, b) => a - b);
        assert.ok(!pidsAfter.includes(victim.pid), `the killed worker's series ended (pids ${pidsAfter.join(', ')})`);
        assert.deepStrictEqual(pidsAfter, livePids(server), 'the labels carry the live pids');
        const restarts = samplesNamed(after, 'server_workers_worker_restarts_total').find((s) => s.labels.pid === String(successor.pid));
        assert.deepStrictEqual(restarts?.labels.slot, '1');
        assert.strictEqual(restarts?.value, 1);
        assert.ok(history.events.read().some((e) => e.kind === 'exit' && e.pid === victim.pid && e.reason === 'killed by SIGKILL'), 'the history has the exit');
      } finally {
        await endpoint?.close();
        await stopAndCheck(server);
      }
    });
  }

  it('the CLI\'s --metrics serves the workers of its server while it runs', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const r = run(['run', '--python', testPython, '--app', 'insight_asgi:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--metrics', String(metricsPort), '--json']);
    try {
      const announced = await r.next((e) => e.event === 'metrics', 'the metrics event');
      assert.strictEqual(announced.url, `http://127.0.0.1:${metricsPort}/metrics`);
      const started = await r.next((e) => e.event === 'started', 'started');
      await burst(port, '/pid', 10, 2);
      const workerPids = (started.workers as Array<{ pid: number }>).map((w) => w.pid).sort((a, b) => a - b);
      let families = await scrape(announced.url);
      const deadline = Date.now() + 10000;
      while (sumOf(samplesNamed(families, 'server_workers_requests_total')) !== 10 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        families = await scrape(announced.url);
      }
      assert.strictEqual(sumOf(samplesNamed(families, 'server_workers_requests_total')), 10);
      assert.deepStrictEqual([...new Set(samplesNamed(families, 'server_workers_requests_in_flight').map((s) => Number(s.labels.pid)))].sort((a, b) => a - b), workerPids);
      r.child.stdin!.write('{"cmd":"stop"}\n');
      assert.strictEqual(await r.exit, 0);
      assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), [], 'nothing of the server is left');
    } finally {
      r.child.kill('SIGTERM');
    }
  });

  it('the CLI\'s --metrics on a port in use: exit 1, naming the process that holds it, before anything starts', async () => {
    const holder = net.createServer();
    const metricsPort = await freePort();
    await new Promise<void>((resolve) => holder.listen(metricsPort, '127.0.0.1', resolve));
    try {
      const r = run(['run', '--app', 'insight_asgi:app', '--workers', '1', '--bind', `127.0.0.1:${await freePort()}`, '--metrics', `127.0.0.1:${metricsPort}`, '--json']);
      assert.strictEqual(await r.exit, 1);
      const error = r.events.find((e) => e.event === 'error')!;
      assert.strictEqual(error.reason, 'port');
      assert.match(String(error.message), new RegExp(`127\\.0\\.0\\.1:${metricsPort}: the port is already in use by pid ${process.pid} \\(`));
      assert.deepStrictEqual((error.portHolder as { pid: number }).pid, process.pid);
      assert.ok(!r.events.some((e) => e.event === 'starting'), 'no server was started');

      const people = run(['run', '--app', 'insight_asgi:app', '--metrics', `127.0.0.1:${metricsPort}`]);
      assert.strictEqual(await people.exit, 1);
      assert.match(people.stderr.join('\n'), new RegExp(`in use by pid ${process.pid} .*--metrics HOST:PORT`));
      const bad = run(['run', '--app', 'insight_asgi:app', '--metrics', 'nine']);
      assert.strictEqual(await bad.exit, 2);
      assert.match(bad.stderr.join('\n'), /--metrics takes HOST:PORT or PORT/);
    } finally {
      holder.close();
    }
  });
});
