/** The supervisor core against real Gunicorn, Uvicorn, Granian and Hypercorn: output separation, respawns, scaling, reload, stop. */
import * as assert from 'node:assert';
import { after, describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import type { WorkerModel } from '../../src/core/model';
import type { ExitEvent } from '../../src/core/serverEvents';
import { isAlive } from '../../src/core/process/procfs';
import { oldUvicornPython } from '../support/paths';
import { assertModelMatchesProc, burst, createServer, eventually, linesOf, stopAndCheck, type TestServer } from './support';

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.supervisor.stop();
});

async function started(definition: Partial<ServerDefinition>): Promise<TestServer> {
  const server = await createServer(definition);
  servers.push(server);
  await server.supervisor.start();
  return server;
}

/** A server kind under test, and what its supervisor does. */
interface Kind {
  title: string;
  definition: Partial<ServerDefinition>;
  /** A worker that dies: the server replaces it in its slot, or stops with it (Hypercorn). */
  deadWorker: 'replaced' | 'stops the server';
  /** A new worker count: by TTIN/TTOU, or by a restart with the new count. */
  scaling: 'signal' | 'restart';
}

const kinds: Kind[] = [
  { title: 'gunicorn + UvicornWorker', definition: { app: 'echo_asgi:app', workers: 3 }, deadWorker: 'replaced', scaling: 'signal' },
  { title: 'gunicorn sync (Flask)', definition: { app: 'flask_app:app', workers: 3, workerClass: 'sync' }, deadWorker: 'replaced', scaling: 'signal' },
  { title: 'uvicorn --workers', definition: { server: 'uvicorn', app: 'echo_asgi:app', workers: 3 }, deadWorker: 'replaced', scaling: 'signal' },
  { title: 'granian --interface asgi', definition: { server: 'granian', app: 'echo_asgi:app', workers: 3 }, deadWorker: 'replaced', scaling: 'restart' },
  // One thread runs the app, as in Gunicorn's sync workers: print() from two threads at once interleaves in Python itself.
  { title: 'granian --interface wsgi (Flask)', definition: { server: 'granian', app: 'flask_app:app', interface: 'wsgi', workers: 3, args: ['--blocking-threads', '1'] }, deadWorker: 'replaced', scaling: 'restart' },
  { title: 'hypercorn --workers', definition: { server: 'hypercorn', app: 'echo_asgi:app', workers: 3 }, deadWorker: 'stops the server', scaling: 'restart' },
];

for (const { title, definition, deadWorker, scaling } of kinds) {
  const serverKind = definition.server ?? 'gunicorn';
  describe(title, { timeout: 180000 }, () => {
    it('puts every line a worker writes in that worker\'s stream, none lost, split or misplaced, over 500 requests', async () => {
      const server = await started(definition);
      assertModelMatchesProc(server.supervisor.model(), 3);
      const served = await burst(server.port, '/log?n=2', 500, 10);
      assert.strictEqual([...served.values()].reduce((a, b) => a + b, 0), 500);
      // Each request: 2 print lines, 2 log lines, 1 line from a subprocess.
      const expected = new Map([...served].map(([pid, n]) => [pid, n * 5]));
      const seen = new Map<number, number>();
      await eventually('every line to arrive', () => {
        seen.clear();
        for (const event of server.output) {
          for (const line of event.lines) {
            const match = /^(?:print|log)-(\d+)-\d+$|^sub-(\d+)$/.exec(line);
            if (match) {
              const pid = Number(match[1] ?? match[2]);
              assert.strictEqual(pid, event.pid, `line "${line}" arrived in the stream of pid ${event.pid} (slot ${event.slot})`);
              seen.set(pid, (seen.get(pid) ?? 0) + 1);
            } else {
              assert.doesNotMatch(line, /(print|log)-\d+-\d+|sub-\d+/, `a line was split or interleaved: "${line}"`);
            }
          }
        }
        return [...expected].every(([pid, n]) => seen.get(pid) === n);
      }, 20000);
      assert.deepStrictEqual(seen, expected, 'lines per worker pid equal what each served');
      assert.ok(!linesOf(server, 0).some((l) => /^(print|log|sub)-/.test(l)), 'the master stream holds no worker line');
      await stopAndCheck(server);
    });

    if (deadWorker === 'replaced') {
      it('a SIGKILLed worker is replaced in its slot, with a marker, a restart count and the reason', async () => {
        const server = await started(definition);
        const before = server.supervisor.model().workers.find((w) => w.slot === 2)!;
        await server.supervisor.killWorker(2);
        const after = server.supervisor.model();
        const slot2 = after.workers.find((w) => w.slot === 2)!;
        assert.notStrictEqual(slot2.pid, before.pid, 'a new pid in slot 2');
        assert.strictEqual(slot2.restarts, 1);
        assert.strictEqual(slot2.lastExit?.signal, 'SIGKILL');
        assert.match(slot2.lastExit?.text ?? '', /killed by SIGKILL/);
        assert.ok(!isAlive(before.pid));
        const marker = server.output.find((e) => e.marker && e.slot === 2);
        assert.ok(marker, 'a marker line in slot 2\'s stream');
        assert.match(marker.lines[0], new RegExp(`worker 2 restarted: pid ${before.pid} killed by SIGKILL → new pid ${slot2.pid}`));
        assertModelMatchesProc(after, 3);
        // The replacement writes to the same slot: its boot lines at least, and whatever it serves.
        await burst(server.port, '/log?n=1', 30, 6);
        await eventually('output from the replacement', () => server.output.some((e) => e.pid === slot2.pid && !e.marker));
        for (const event of server.output.filter((e) => e.pid === slot2.pid)) assert.strictEqual(event.slot, 2);
        await stopAndCheck(server);
      });
    } else {
      it(`a SIGKILLed worker is reported lost; ${serverKind} stops with it, says why, and the restart policy starts it again`, async () => {
        const server = await started(definition);
        const exits: ExitEvent[] = [];
        server.supervisor.onExit.on((exit) => exits.push(exit));
        const before = server.supervisor.model();
        const victim = before.workers.find((w) => w.slot === 2)!;
        await server.supervisor.killWorker(2);
        const marker = server.output.find((e) => e.marker && e.slot === 2);
        assert.ok(marker, 'a marker line in slot 2\'s stream');
        assert.strictEqual(marker.lines[0], `── worker 2 (pid ${victim.pid}) killed by SIGKILL; ${serverKind} does not replace it: it stops every worker and itself when one dies`);
        await eventually('the master\'s exit', () => exits.length === 1, 10000);
        assert.match(exits[0].error ?? '', new RegExp(`^The ${serverKind} master \\(pid ${before.master!.pid}\\) exited with code (0|241): ${serverKind} stops every worker and itself when one dies, and worker 2 \\(pid ${victim.pid}\\) killed by SIGKILL`));
        assert.strictEqual(exits[0].restartAttempt, 1, 'the restart policy starts it again');
        await eventually('the server to run again', () => server.supervisor.serverState === 'running' && server.supervisor.model().master?.pid !== before.master!.pid, 30000);
        for (const worker of before.workers) assert.ok(!isAlive(worker.pid), `old worker ${worker.pid} is gone`);
        assertModelMatchesProc(server.supervisor.model(), 3);
        await stopAndCheck(server);
      });
    }

    it(`scales 2 -> 5 -> 1 -> 3${scaling === 'restart' ? ' (by restarting, and says so)' : ''}, reloads, and the model equals /proc after each step`, async () => {
      const server = await started({ ...definition, workers: 2 });
      assertModelMatchesProc(server.supervisor.model(), 2);
      for (const count of [5, 1, 3]) {
        const masterBefore = server.supervisor.model().master!.pid;
        await server.supervisor.scale(count);
        assertModelMatchesProc(server.supervisor.model(), count);
        if (scaling === 'restart') {
          assert.notStrictEqual(server.supervisor.model().master!.pid, masterBefore, 'scaling restarted the server');
          const said = linesOf(server, 0).filter((l) => l === `── scaling to ${count} workers: ${serverKind} cannot add or remove workers while it runs, so Server Workers restarts it with ${count}`);
          assert.strictEqual(said.length, 1, 'the master\'s stream says why it restarts');
        }
      }
      const oldPids = server.supervisor.model().workers.map((w) => w.pid);
      await server.supervisor.reload();
      const reloaded = server.supervisor.model();
      assertModelMatchesProc(reloaded, 3);
      assert.strictEqual(reloaded.retiring.length, 0);
      for (const worker of reloaded.workers) assert.ok(!oldPids.includes(worker.pid), `worker ${worker.slot} is of the new generation`);
      for (const pid of oldPids) assert.ok(!isAlive(pid), `old worker ${pid} is gone`);
      await stopAndCheck(server);
    });
  });
}

describe('uvicorn before 0.30 (no respawn, no signals)', { timeout: 120000 }, () => {
  it('reports a dead worker as lost and scales by restarting', async () => {
    const server = await started({ server: 'uvicorn', app: 'echo_asgi:app', workers: 2, python: oldUvicornPython });
    assert.deepStrictEqual(server.supervisor.model().capabilities, { scale: 'restart', reload: 'restart', respawnsWorkers: false });
    const victim = server.supervisor.model().workers[0];
    await server.supervisor.killWorker(victim.slot);
    const model = server.supervisor.model();
    const lost = model.workers.find((w) => w.slot === victim.slot)!;
    assert.strictEqual(lost.state, 'exited');
    assert.match(lost.lastExit!.text, /SIGKILL/);
    assert.ok(server.output.some((e) => e.marker && /does not replace it/.test(e.lines[0])), 'the slot says it is not replaced');
    const masterBefore = model.master!.pid;
    await server.supervisor.scale(3);
    const scaled = server.supervisor.model();
    assert.notStrictEqual(scaled.master!.pid, masterBefore, 'scaling restarted the server');
    assertModelMatchesProc(scaled, 3);
    await stopAndCheck(server);
  });
});

describe('agent off (fallback)', { timeout: 90000 }, () => {
  it('finds the workers in /proc and attributes Gunicorn lines by the pid in their prefix', async () => {
    const server = await createServer({ app: 'flask_app:app', workers: 2, workerClass: 'sync' }, {});
    servers.push(server);
    await server.supervisor.start();
    const model = server.supervisor.model();
    assertModelMatchesProc(model, 2);
    for (const worker of model.workers) {
      assert.ok(linesOf(server, worker.slot).some((l) => l.includes(`Booting worker with pid: ${worker.pid}`)), `worker ${worker.slot}'s boot line is in its stream`);
    }
    await stopAndCheck(server);
  });

  const announced: Array<[string, Partial<ServerDefinition>, (worker: WorkerModel, server: TestServer) => boolean]> = [
    // Granian's master announces its forked workers; the line stays in the master's stream.
    ['granian: finds its forked workers in /proc, ready when its master announces them', { server: 'granian' },
      (worker, server) => linesOf(server, 0).some((l) => new RegExp(`Spawning worker-\\d with PID: ${worker.pid}$`).test(l))],
    ['hypercorn: finds its spawned workers in /proc, ready at "Running on", attributed by the pid in its prefix', { server: 'hypercorn' },
      (worker, server) => linesOf(server, worker.slot).some((l) => l.includes(`[${worker.pid}] [INFO] Running on http://`))],
  ];
  for (const [title, definition, announces] of announced) {
    it(title, async () => {
      const server = await createServer({ ...definition, app: 'echo_asgi:app', workers: 2 }, {});
      servers.push(server);
      await server.supervisor.start();
      const model = server.supervisor.model();
      assertModelMatchesProc(model, 2);
      for (const worker of model.workers) assert.ok(announces(worker, server), `worker ${worker.slot} (pid ${worker.pid}) is announced where it should be`);
      await stopAndCheck(server);
    });
  }
});
