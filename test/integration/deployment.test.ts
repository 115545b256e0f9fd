/** The deployment concepts against real servers: HTTPS, pre-launch steps, memory limit, restart policy. */
import * as assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import type { ExitEvent } from '../../src/core/supervisor';
import { isAlive } from '../../src/core/process/procfs';
import { appsDir, createServer, eventually, linesOf, stopAndCheck, type TestServer } from './support';

let certDir = '';
before(() => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
});
after(() => fs.rmSync(certDir, { recursive: true, force: true }));

function httpsGet(port: number, pathname: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: pathname, rejectUnauthorized: false, agent: false }, (response) => {
      let body = '';
      response.on('data', (c) => (body += c));
      response.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    }).on('error', reject);
  });
}

async function started(definition: Partial<ServerDefinition>): Promise<TestServer> {
  const server = await createServer(definition);
  await server.supervisor.start();
  return server;
}

describe('HTTPS', { timeout: 60000 }, () => {
  for (const server of ['gunicorn', 'uvicorn', 'granian', 'hypercorn'] as const) {
    it(`${server} serves HTTPS with certfile and keyfile, and the model's URL says https`, async () => {
      const s = await started({ server, workers: 2, certfile: path.join(certDir, 'cert.pem'), keyfile: path.join(certDir, 'key.pem') });
      assert.strictEqual(s.supervisor.model().url, `https://127.0.0.1:${s.port}`);
      const answer = await httpsGet(s.port, '/pid');
      assert.ok(s.supervisor.model().workers.some((w) => w.pid === answer.pid));
      await stopAndCheck(s);
    });
  }

  it('a missing certificate is a clear error before anything starts', async () => {
    const s = await createServer({ workers: 2, certfile: 'nope/cert.pem', keyfile: path.join(certDir, 'key.pem') });
    await assert.rejects(s.supervisor.start(), /The certificate file ".*nope\/cert\.pem" \("certfile"\) does not exist or cannot be read/);
    assert.strictEqual(s.supervisor.pid, undefined, 'nothing was spawned');
  });
});

describe('preLaunch', { timeout: 60000 }, () => {
  it('runs the steps in order in the server\'s folder, with "python" as the server\'s interpreter, then starts', async () => {
    const marker = path.join(appsDir, `prelaunch-${process.pid}.txt`);
    try {
      const s = await started({
        workers: 1,
        preLaunch: [
          ['python', '-c', `import sys; open(${JSON.stringify(path.basename(marker))}, "w").write(sys.executable); print("step one done")`],
          ['python', '-c', 'print("step two done")'],
        ],
      });
      assert.match(fs.readFileSync(marker, 'utf8'), /\.venv\/bin\/python/);
      const master = linesOf(s, 0);
      assert.ok(master.indexOf('step one done') < master.indexOf('step two done'), 'in order, in the master\'s stream');
      assert.ok(master.some((l) => l.includes('pre-launch step 1 of 2')));
      await stopAndCheck(s);
    } finally {
      fs.rmSync(marker, { force: true });
    }
  });

  it('a failing step stops the start, says which step and its exit code, and starts nothing', async () => {
    const s = await createServer({ workers: 2, preLaunch: [['python', '-c', 'print("ok")'], ['python', '-c', 'import sys; print("migration failed"); sys.exit(3)'], ['python', '-c', 'print("never")']] });
    await assert.rejects(s.supervisor.start(), /Pre-launch step 2 of 3 \(python -c import sys; print\("migration failed"\); sys\.exit\(3\)\) failed: it exited with code 3\. Nothing was started/);
    assert.strictEqual(s.supervisor.pid, undefined);
    assert.ok(linesOf(s, 0).includes('migration failed'));
    assert.ok(!linesOf(s, 0).includes('never'));
    const missing = await createServer({ workers: 2, preLaunch: [['no-such-command-xyz', '--flag']] });
    await assert.rejects(missing.supervisor.start(), /Pre-launch step 1 of 1 \(no-such-command-xyz --flag\) could not be run: no such command "no-such-command-xyz"/);
  });
});

describe('memory limit', { timeout: 60000 }, () => {
  // Server Workers recycles Gunicorn's and Uvicorn's workers; Granian recycles its own (--workers-max-rss), successor first.
  for (const server of ['gunicorn', 'granian'] as const) {
    it(`${server}: recycles a worker over the limit gracefully: the server replaces it and its channel says why`, async () => {
      const s = await started({ server, app: 'memory_asgi:app', workers: 2, maxMemoryMb: 100 });
      const before = s.supervisor.model();
      assert.strictEqual(before.memoryLimitBytes, 100 * 1024 * 1024);
      const { pid } = (await (await fetch(`http://127.0.0.1:${s.port}/grow?mb=150`)).json()) as { pid: number };
      const slot = before.workers.find((w) => w.pid === pid)!.slot;
      await eventually('the worker to be replaced, and gone', () => {
        const now = s.supervisor.model().workers.find((w) => w.slot === slot);
        return now !== undefined && now.pid !== pid && now.state === 'ready' && !isAlive(pid) && s.supervisor.model().retiring.length === 0;
      }, 20000);
      const replaced = s.supervisor.model().workers.find((w) => w.slot === slot)!;
      assert.match(replaced.lastExit?.text ?? '', /^recycled: it used \d+ MiB, over the 100 MiB limit \((exited with code 0|killed by SIGTERM)\)$/);
      assert.ok(linesOf(s, slot).some((l) => /over the 100 MiB limit: recycling it gracefully/.test(l)), 'the channel says why');
      if (server === 'granian') {
        assert.ok(linesOf(s, slot).includes(`── worker ${slot} recycled: pid ${pid} retires → new pid ${replaced.pid}`), 'its successor took its slot before it went');
        assert.strictEqual(replaced.restarts, 0, 'a recycle is not a restart');
      }
      assert.strictEqual(s.supervisor.model().workers.length, 2);
      await stopAndCheck(s);
    });
  }
});

describe('restart policy', { timeout: 90000 }, () => {
  it('on-failure: a SIGKILLed master is seen at once, its workers cleaned up, and the server restarted with backoff up to the maximum', async () => {
    const s = await started({ workers: 2, restart: 'on-failure', restartMax: 2 });
    const exits: ExitEvent[] = [];
    s.supervisor.onExit.on((e) => exits.push(e));
    for (const attempt of [1, 2]) {
      const model = s.supervisor.model();
      const killedAt = Date.now();
      process.kill(model.master!.pid, 'SIGKILL');
      await eventually('the exit event', () => exits.length === attempt, 1000);
      assert.ok(Date.now() - killedAt < 1000, 'detected within 1 s');
      assert.strictEqual(exits[attempt - 1].signal, 'SIGKILL');
      assert.strictEqual(exits[attempt - 1].restartAttempt, attempt);
      assert.strictEqual(exits[attempt - 1].restartInMs, 1000 * 2 ** (attempt - 1));
      await eventually('the orphaned workers to be gone', () => model.workers.every((w) => !isAlive(w.pid)), 2000);
      await eventually('the server to run again', () => s.supervisor.serverState === 'running' && s.supervisor.model().master?.pid !== model.master!.pid, 20000);
    }
    process.kill(s.supervisor.model().master!.pid, 'SIGKILL');
    await eventually('the third death to fail the server', () => s.supervisor.serverState === 'failed', 5000);
    assert.strictEqual(exits[2].restartInMs, undefined, 'no third restart');
    await stopAndCheck(s);
  });

  it('never: the server fails and nothing of it remains', async () => {
    const s = await started({ workers: 2, restart: 'never' });
    const pids = s.supervisor.knownPids();
    process.kill(s.supervisor.model().master!.pid, 'SIGKILL');
    await eventually('failed', () => s.supervisor.serverState === 'failed', 3000);
    assert.match(s.supervisor.model().error ?? '', /master \(pid \d+\) killed by SIGKILL/);
    await eventually('every process gone', () => pids.every((p) => !isAlive(p)), 2000);
    await stopAndCheck(s);
  });
});
