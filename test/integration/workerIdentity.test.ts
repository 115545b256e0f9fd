/**
 * Who is a worker (issue 22, items 8 and 9), against real servers: a process the server started as one, decided in
 * the process the server forked; a daemon that a worker double-forks (adopted by the master, the stack of
 * `spawn_worker` still in it) is never a worker row, and `kill` on a slot never reaches it. A connection's pid is
 * the one its peer credentials (SO_PEERCRED) show, and a second claim never evicts a live connection.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { isAlive } from '../../src/core/process/procfs';
import { createServer, eventually, get, stopAndCheck } from './support';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a worker is a process the server started as one', { timeout: 180000 }, () => {
  it('gunicorn: daemons a worker double-forks get no slot, and kill on every slot leaves them alone', async () => {
    const server = await createServer({ app: 'daemon_wsgi:app', workerClass: 'sync', workers: 2 });
    let daemons: number[] = [];
    try {
      await server.supervisor.start();
      const { body } = await get(server.port, '/daemons?n=6', 30000);
      daemons = body.daemons as number[];
      assert.strictEqual(daemons.length, 6);
      assert.ok(daemons.every(isAlive), 'the daemons run');
      await sleep(2000); // a hello from a daemon would have been admitted by now
      const rows = () => [...server.supervisor.model().workers, ...server.supervisor.model().retiring];
      assert.deepStrictEqual(rows().filter((w) => daemons.includes(w.pid)).map((w) => `slot ${w.slot} ${w.state}`), [], 'no daemon is a worker row');
      assert.strictEqual(server.supervisor.model().workers.length, 2);

      for (const slot of server.supervisor.model().workers.map((w) => w.slot)) await server.supervisor.killWorker(slot);
      assert.ok(daemons.every(isAlive), 'kill on each slot killed a worker, never a daemon');
      assert.deepStrictEqual(rows().filter((w) => daemons.includes(w.pid)).map((w) => w.slot), [], 'still no daemon row');
      await eventually('two ready workers', () => server.supervisor.model().workers.filter((w) => w.state === 'ready').length === 2);
    } finally {
      await stopAndCheck(server);
    }
    // Not worker rows, yet the server's processes: the stop ends them as it ends every descendant.
    assert.deepStrictEqual(daemons.filter(isAlive), [], 'the daemons ended with the server');
  });
});

