/**
 * The soak's mismatch (issue 22, item 17): a worker SIGKILLed as a Gunicorn reload begins. Gunicorn respawns it while
 * the reload's `worker add N` comes, so the new generation has N + 1 workers; the swap then removed as many workers as
 * were new and ready (N + 1), which took Gunicorn one below its count and left two dead slots in the model that
 * Gunicorn never refilled (until they closed 10 s later). The swap now removes down to the wanted count, and expects
 * the slots of the new workers Gunicorn stops (its oldest) to close.
 *
 * The longer soak found one more: a worker SIGKILLed while a hanging save's new workers were being ended was replaced
 * by Gunicorn with one that imported the hanging code too, after the reload had listed what to end: it hung for good,
 * and the next scale timed out waiting for it.
 */
import * as assert from 'node:assert';
import { after, describe, it } from 'node:test';
import { commandLine } from '../../src/core/process/procfs';
import { gunicornWorkerTarget } from '../../src/core/reload/gunicornControl';
import { reloadAppFolder, writeVersion, writeVersionCode } from './reloadSupport';
import { assertModelMatchesProc, createServer, eventually, stopAndCheck, type TestServer } from './support';

const WORKERS = 4;
/** How long after the SIGKILL of a worker the soak allows for the model to equal /proc again. */
const CHECK_MS = 3000;
/** When the SIGKILL goes, after the reload was asked for: around its `show stats` and `worker add`. */
const KILL_DELAYS_MS = [0, 2, 5, 8, 12, 20];

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.supervisor.stop();
});

function busyWait(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // the SIGKILL must go this many ms after reload() was called, not at the next turn of the event loop
  }
}

describe('a worker SIGKILLed as a Gunicorn reload begins', { timeout: 180000 }, () => {
  it('the model equals /proc within 3 s of each reload, and Gunicorn keeps its count', async () => {
    const folder = reloadAppFolder();
    const server = await createServer({ app: 'reload_asgi:app', workers: WORKERS, cwd: folder });
    servers.push(server);
    await server.supervisor.start();
    await eventually('the reload method to be known', () => server.supervisor.model().reload.method === 'swap');
    const argv = commandLine(server.supervisor.model().master!.pid).split(' ');
    const controlSocket = argv[argv.indexOf('--control-socket') + 1];
    for (const [round, delay] of KILL_DELAYS_MS.entries()) {
      const workers = server.supervisor.model().workers;
      const victim = workers[round % workers.length];
      writeVersion(folder, `v${round}`);
      const reload = server.supervisor.reload();
      busyWait(delay);
      process.kill(victim.pid, 'SIGKILL');
      await reload;
      let last = '';
      const matches = () => {
        try {
          assertModelMatchesProc(server.supervisor.model(), WORKERS);
          return true;
        } catch (error) {
          last = (error as Error).message;
          return false;
        }
      };
      await eventually(`round ${round}: the model to equal /proc`, matches, CHECK_MS).catch(() => assert.fail(`round ${round} (SIGKILL ${delay} ms after the reload began): ${last}`));
      assert.strictEqual(await gunicornWorkerTarget(controlSocket), WORKERS, `round ${round}: Gunicorn's count`);
    }
    await stopAndCheck(server);
  });
});

describe('a worker SIGKILLed while a hanging save\'s new workers are ended', { timeout: 120000 }, () => {
  it('its replacement, hanging on the same code, goes with them: the model equals /proc, Gunicorn\'s count is what serves', async () => {
    const folder = reloadAppFolder();
    const server = await createServer({ app: 'reload_asgi:app', workers: 2, cwd: folder, reloadTimeout: 5 });
    servers.push(server);
    await server.supervisor.start();
    await eventually('the reload method to be known', () => server.supervisor.model().reload.method === 'swap');
    const argv = commandLine(server.supervisor.model().master!.pid).split(' ');
    const controlSocket = argv[argv.indexOf('--control-socket') + 1];
    const [victim, survivor] = server.supervisor.model().workers;
    writeVersionCode(folder, 'import time\ntime.sleep(3600)');
    const reload = server.supervisor.reload().then(() => undefined, (e: unknown) => e);
    // The hung new workers' stacks are the first thing the reload does when its time is up: the SIGKILL goes then.
    await eventually('the hung workers\' stack dump', () => server.output.some((e) => e.pid !== victim.pid && e.pid !== survivor.pid && e.lines.some((l) => /most recent call first/.test(l))), 30000);
    process.kill(victim.pid, 'SIGKILL');
    assert.match(String(await reload), /did not finish within 5 s/);
    let last = '';
    const matches = () => {
      try {
        assertModelMatchesProc(server.supervisor.model(), 1);
        return true;
      } catch (error) {
        last = (error as Error).message;
        return false;
      }
    };
    await eventually('the model to equal /proc', matches, CHECK_MS).catch(() => assert.fail(last));
    assert.deepStrictEqual(server.supervisor.model().workers.map((w) => w.pid), [survivor.pid], 'the old worker that was not killed serves');
    assert.strictEqual(await gunicornWorkerTarget(controlSocket), 1, 'Gunicorn\'s count: the worker that serves');
    writeVersion(folder, 'good');
    await server.supervisor.reload();
    await eventually('the model to equal /proc', () => {
      try {
        assertModelMatchesProc(server.supervisor.model(), 2);
        return true;
      } catch {
        return false;
      }
    }, CHECK_MS);
    assert.strictEqual(await gunicornWorkerTarget(controlSocket), 2, 'the good save brings the count back');
    await stopAndCheck(server);
  });
});
