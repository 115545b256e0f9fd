/**
 * Gunicorn's gevent workers (`--worker-class gevent`), real processes: per-worker output, Show Stack on a worker whose
 * request waits in a greenlet (the greenlet's stack names the handler, listed before the threads), respawn, reload,
 * and a stop that leaves nothing.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { statusOf, hanging, lineOf, workerServing } from './insightSupport';
import { createServer, eventually, linesOf, stopAndCheck } from './support';

const SLEEP_LINE = lineOf('insight_asgi.py', 'time.sleep(duration)');

describe('gunicorn --worker-class gevent', { timeout: 240000 }, () => {
  it('output per worker, Show Stack names the handler a greenlet waits in, respawn, reload, stop', async () => {
    const server = await createServer({ app: 'insight_wsgi:app', workerClass: 'gevent', workers: 2, gracefulTimeout: 1 });
    try {
      await server.supervisor.start();
      const workers = server.supervisor.model().workers;
      assert.deepStrictEqual(workers.map((w) => w.state), ['ready', 'ready']);
      for (const worker of workers) {
        assert.ok(linesOf(server, worker.slot).some((line) => line.includes(`Booting worker with pid: ${worker.pid}`)), `worker ${worker.slot}'s own line in its stream`);
      }
      assert.strictEqual((await statusOf(server.port, '/status?code=200')).status, 200);

      const request = hanging(server.port, '/block?s=60');
      try {
        let slot = 0;
        await eventually('a worker serving /block', () => (slot = workerServing(server.supervisor.model().workers, '/block')?.slot ?? 0) > 0);
        const result = await server.supervisor.showStacks(slot);
        assert.strictEqual(result.via, 'agent');
        assert.ok((result.greenlets ?? 0) >= 1, `the answer counts the greenlets: ${JSON.stringify(result)}`);
        const stack = () => {
          const lines = linesOf(server, slot);
          return lines.slice(lines.map((line) => line.startsWith('── stacks of worker')).lastIndexOf(true));
        };
        const handler = new RegExp(`^\\s+File ".*insight_asgi\\.py", line ${SLEEP_LINE} in blocking_sleep$`);
        const threadHeader = /^(Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):$/;
        await eventually('the greenlet on GET /block, with the handler\'s frame, then the threads', () => stack().some((line) => handler.test(line)) && stack().some((line) => threadHeader.test(line)), 10000);
        const lines = stack();
        const onRequest = lines.findIndex((line) => /^Greenlet .* on GET \/block \(\d+\.\d s\):$/.test(line));
        assert.ok(onRequest > 0, `a greenlet is named as the one on GET /block:\n${lines.join('\n')}`);
        const frames = lines.slice(onRequest + 1);
        assert.ok(frames.slice(0, frames.findIndex((line) => line === '')).some((line) => handler.test(line)), 'its stack holds the handler');
        const firstGreenlet = lines.findIndex((line) => line.startsWith('Greenlet '));
        assert.strictEqual(firstGreenlet, onRequest, 'the greenlet on the request comes first');
        assert.ok(onRequest < lines.findIndex((line) => threadHeader.test(line)), 'before the threads (the hub)');
      } finally {
        request.abort();
      }

      const victim = server.supervisor.model().workers[0];
      await server.supervisor.killWorker(victim.slot);
      const replacement = server.supervisor.model().workers.find((w) => w.slot === victim.slot)!;
      assert.ok(replacement.pid !== victim.pid && replacement.state === 'ready' && replacement.restarts === 1, 'respawned in its slot');

      await server.supervisor.reload();
      await eventually('two ready workers of the next generation', () => {
        const next = server.supervisor.model().workers;
        return next.length === 2 && next.every((w) => w.state === 'ready' && w.generation === 2);
      }, 60000);
      assert.strictEqual((await statusOf(server.port, '/status?code=200')).status, 200, 'the new generation serves');
    } finally {
      await stopAndCheck(server);
    }
  });
});
