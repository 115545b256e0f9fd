/**
 * The in-worker agent (python/) against real servers: Gunicorn (Uvicorn workers, sync workers), Uvicorn's own
 * supervisor (0.54 and 0.29), Granian, Hypercorn. A plain `net` server (agentHub.ts) stands in for the supervisor's
 * end of docs/agent-protocol.md; agentScenario.ts starts each server against it and makes the checks.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareVersions, detectEnvironment } from '../../src/core/pythonEnvironment';
import { agentDir, oldUvicornPython, testPython } from '../support/paths';
import { AgentHub, privateDir } from './agentHub';
import {
  assertBooted,
  assertCrashAndRespawn,
  assertPerWorkerOutput,
  assertServingLine,
  cleanup,
  countsIn,
  httpGet,
  isAlive,
  LINES_PER_REQUEST,
  logBursts,
  markerLines,
  type RunningServer,
  serverFailure,
  type ServerOptions,
  startServer,
  waitFor,
  waitForAsync,
  withServer,
} from './agentScenario';

// ---- the tests --------------------------------------------------------------------------------------------------

// Gunicorn 25+ opens a control socket at one path shared by all of a user's servers: off here, where the core would
// give each server its own (src/core/adapters/gunicorn.ts). Gunicorn 23 (the last for Python 3.9) has none.
let noControlSocket: string[] = [];
// Granian 2.5 (the last for Python 3.9) deadlocks in a worker's stop about one time in three, with or without the
// agent (its runtime dropped while it holds the GIL a runtime thread waits for: granian#875); 2.8 does not. There
// the watchdog's SIGKILL ends it, KILL_GRACE (python/server_workers_agent/master.py) after its SIGTERM.
let granianStopMayDeadlock = false;
const WATCHDOG_KILL_GRACE_MS = 5000;
before(async () => {
  const environment = await detectEnvironment(testPython);
  noControlSocket = environment.gunicornSettings.includes('control_socket') ? ['--no-control-socket'] : [];
  granianStopMayDeadlock = environment.packages.granian !== undefined && compareVersions(environment.packages.granian, '2.8') < 0;
});

const gunicornArgs = (workerClass: string, app: string, workers: number) => (port: number) => [
  '--workers', String(workers),
  '--worker-class', workerClass,
  '--bind', `127.0.0.1:${port}`,
  '--graceful-timeout', '2',
  ...noControlSocket,
  app,
];
const uvicornArgs = (workers: number) => (port: number) => [
  'echo_asgi:app',
  '--host', '127.0.0.1',
  '--port', String(port),
  '--workers', String(workers),
];

const granianArgs = (app: string, appInterface: string, workers: number) => (port: number) => [
  app,
  '--interface', appInterface,
  '--workers', String(workers),
  '--host', '127.0.0.1',
  '--port', String(port),
  '--respawn-failed-workers',
  '--blocking-threads', '1',
];
const hypercornArgs = (workers: number) => (port: number) => ['echo_asgi:app', '--workers', String(workers), '--bind', `127.0.0.1:${port}`];

test('gunicorn + UvicornWorker: hellos, ready, per-worker output, crash reported and respawned', { timeout: 90000 }, () =>
  withServer({ python: testPython, server: 'gunicorn', args: gunicornArgs('uvicorn_worker.UvicornWorker', 'echo_asgi:app', 3) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 3);
    const served = await logBursts(server.port, workers);
    await assertPerWorkerOutput(hub, server, served);
    await assertCrashAndRespawn(hub, server, workers);
  }),
);

test('gunicorn sync + Flask: hellos, ready, per-worker output, crash reported and respawned', { timeout: 90000 }, () =>
  withServer({ python: testPython, server: 'gunicorn', args: gunicornArgs('sync', 'flask_app:app', 3) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 3);
    const served = await logBursts(server.port, workers);
    await assertPerWorkerOutput(hub, server, served);
    await assertCrashAndRespawn(hub, server, workers);
  }),
);

test('uvicorn 0.54 --workers 2: hellos, ready, per-worker output, crash reported and respawned', { timeout: 90000 }, () =>
  withServer({ python: testPython, server: 'uvicorn', args: uvicornArgs(2) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 2);
    const served = await logBursts(server.port, workers);
    await assertPerWorkerOutput(hub, server, served);
    await assertCrashAndRespawn(hub, server, workers);
  }),
);

test('uvicorn 0.29 --workers 2: hellos, ready, per-worker output', { timeout: 90000 }, () =>
  withServer({ python: oldUvicornPython, server: 'uvicorn', args: uvicornArgs(2) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 2);
    const served = await logBursts(server.port, workers);
    await assertPerWorkerOutput(hub, server, served);
  }),
);

for (const [appInterface, app] of [['asgi', 'echo_asgi:app'], ['wsgi', 'flask_app:app']]) {
  test(`granian --interface ${appInterface} --workers 2 (forked): hellos, ready once it serves, per-worker output, crash reported and respawned`, { timeout: 90000 }, () =>
    withServer({ python: testPython, server: 'granian', args: granianArgs(app, appInterface, 2) }, async (hub, server) => {
      const workers = await assertBooted(hub, server, 2);
      await assertServingLine(hub, workers, /\[INFO\] Started worker-\d\n/);
      const served = await logBursts(server.port, workers);
      await assertPerWorkerOutput(hub, server, served);
      await assertCrashAndRespawn(hub, server, workers);
    }),
  );
}

test('hypercorn --workers 2 (spawned): hellos, ready once it runs on the socket, per-worker output, a crash reported', { timeout: 90000 }, () =>
  withServer({ python: testPython, server: 'hypercorn', args: hypercornArgs(2) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 2);
    await assertServingLine(hub, workers, /\[INFO\] Running on http:\/\/127\.0\.0\.1:\d+ \(CTRL \+ C to quit\)\n/);
    const served = await logBursts(server.port, workers);
    await assertPerWorkerOutput(hub, server, served);
    await httpGet(server.port, '/crash').then((reply) => assert.fail(`GET /crash answered ${reply.status}`), () => undefined);
    const exit = await waitFor('an exit message for the crashed worker', 5000, () =>
      hub.master()!.messages.find((m) => m.t === 'exit' && workers.includes(m.pid as number)),
    );
    assert.deepEqual(exit, { t: 'exit', pid: exit.pid, code: null, signal: 'SIGKILL' });
  }),
);

test('uvicorn in one process: the master says ready, nobody takes the worker role, output stays on the pipes', { timeout: 60000 }, () =>
  withServer({ python: testPython, server: 'uvicorn', args: (port) => ['echo_asgi:app', '--host', '127.0.0.1', '--port', String(port)] }, async (hub, server) => {
    const master = await waitFor(`the master to be ready${serverFailure(server)}`, 20000, () => {
      const connection = hub.master();
      return connection?.messages.some((m) => m.t === 'ready') ? connection : undefined;
    });
    assert.equal(master.hello!.pid, server.pid);
    const reply = await httpGet(server.port, `/log?n=${LINES_PER_REQUEST}`);
    assert.equal((JSON.parse(reply.body) as { pid: number }).pid, server.pid);
    await waitFor(`the lines on the master's pipes${serverFailure(server)}`, 5000, () => {
      const out = countsIn(markerLines(server.stdout, 'stdout'));
      const err = countsIn(markerLines(server.stderr, 'stderr'));
      return out.get(`sub-${server.pid}`) === 1 && err.get(`log-${server.pid}-${LINES_PER_REQUEST - 1}`) === 1;
    });
    assert.deepEqual(hub.with({ role: 'worker' }), []);
    assert.equal(master.messages.filter((m) => m.t === 'ready').length, 1);
  }),
);

test('control: ping answers pong with the pid, unknown commands an error, on master and workers', { timeout: 60000 }, () =>
  withServer({ python: testPython, server: 'gunicorn', args: gunicornArgs('sync', 'flask_app:app', 2) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 2);
    const targets = [hub.master()!, ...workers.map((pid) => hub.control(pid)!)];
    for (const [i, connection] of targets.entries()) {
      connection.send({ id: 100 + i, t: 'ping' });
      connection.send({ id: 200 + i, t: 'no-such-command' });
    }
    for (const [i, connection] of targets.entries()) {
      const pid = connection.hello!.pid;
      assert.deepEqual(connection.errors, []);
      const pong = await waitFor(`pong from ${pid}`, 5000, () => connection.messages.find((m) => m.id === 100 + i));
      assert.deepEqual(pong, { id: 100 + i, t: 'pong', pid });
      const error = await waitFor(`an error reply from ${pid}`, 5000, () => connection.messages.find((m) => m.id === 200 + i));
      assert.equal(error.t, 'error');
    }
  }),
);

const watchdogServers: Record<ServerOptions['server'], (port: number) => string[]> = {
  gunicorn: gunicornArgs('uvicorn_worker.UvicornWorker', 'echo_asgi:app', 2),
  uvicorn: uvicornArgs(2),
  granian: granianArgs('echo_asgi:app', 'asgi', 2),
  hypercorn: hypercornArgs(2),
};
for (const [kind, args] of Object.entries(watchdogServers) as Array<[ServerOptions['server'], (port: number) => string[]]>) {
  const granian25 = kind === 'granian' ? ' (Granian 2.5: by the watchdog\'s SIGKILL)' : '';
  test(`watchdog (${kind}): the master's control connection closes -> nothing of the server is left within 2 s${granian25}`, { timeout: 60000 }, () =>
    withServer(
      { python: testPython, server: kind, args },
      async (hub, server) => {
        await assertBooted(hub, server, 2);
        server.remember();
        const pids = [...server.known.keys()];
        assert.ok(pids.length >= 3, `expected master and 2 workers in the group, saw ${pids.join(', ')}`);
        const started = Date.now();
        hub.master()!.socket.destroy();
        const withinMs = kind === 'granian' && granianStopMayDeadlock ? WATCHDOG_KILL_GRACE_MS + 1000 : 2000;
        await waitFor(`every process of the server (${pids.join(', ')}) to exit`, withinMs, () => server.alivePids().length === 0);
        console.log(`# ${kind}: the server was gone ${Date.now() - started} ms after the control connection closed`);
      },
    ),
  );
}

test('a SIGKILLed master: its control connection closes at once, though its forked workers hold no copy of it', { timeout: 60000 }, () =>
  withServer({ python: testPython, server: 'gunicorn', args: gunicornArgs('sync', 'flask_app:app', 2) }, async (hub, server) => {
    const workers = await assertBooted(hub, server, 2);
    const master = hub.master()!;
    process.kill(server.pid, 'SIGKILL');
    await waitFor("EOF on the master's control connection", 2000, () => master.closed);
    assert.ok(workers.some((pid) => isAlive(pid)), 'the workers outlived the master for this check');
  }),
);

test('fail open: nothing listens on SERVER_WORKERS_SOCKET -> gunicorn serves, output on the usual pipes; WATCH_PID fallback', { timeout: 60000 }, async () => {
  const dir = privateDir();
  const watched = spawn('sleep', ['600'], { stdio: 'ignore' });
  const watchedExit = new Promise<void>((resolve) => watched.once('exit', () => resolve()));
  let server: RunningServer | undefined;
  try {
    server = await startServer({
      python: testPython,
      server: 'gunicorn',
      args: gunicornArgs('uvicorn_worker.UvicornWorker', 'echo_asgi:app', 2),
      socketPath: path.join(dir, 'nobody.sock'),
      watchPid: watched.pid,
    });
    const running = server;
    await waitForAsync(`gunicorn to serve without the agent${serverFailure(running)}`, 20000, () =>
      httpGet(running.port, '/pid', 1000).then((reply) => reply.status === 200, () => false),
    );
    const replies = await Promise.all(Array.from({ length: 6 }, () => httpGet(running.port, `/log?n=${LINES_PER_REQUEST}&whole=1`)));
    const pids = replies.map((reply) => (JSON.parse(reply.body) as { pid: number }).pid);
    running.remember(pids);
    for (const pid of new Set(pids)) {
      const count = pids.filter((p) => p === pid).length;
      await waitFor(`worker ${pid}'s lines on the master's pipes${serverFailure(running)}`, 5000, () => {
        const out = countsIn(markerLines(running.stdout, 'stdout'));
        const err = countsIn(markerLines(running.stderr, 'stderr'));
        for (let i = 0; i < LINES_PER_REQUEST; i++) {
          if (out.get(`print-${pid}-${i}`) !== count || err.get(`log-${pid}-${i}`) !== count) return false;
        }
        return out.get(`sub-${pid}`) === count;
      });
    }
    // The fallback watchdog: the watched process goes, the server follows (1 s polling + shutdown).
    const pidsBefore = [...running.known.keys()];
    watched.kill('SIGKILL');
    await watchedExit;
    await waitFor(`every process of the server (${pidsBefore.join(', ')}) to exit after the watched pid`, 4000, () => running.alivePids().length === 0);
  } finally {
    await cleanup(server, undefined);
    watched.kill('SIGKILL');
    await watchedExit;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sitecustomize: chains the one it shadows; an agent-enabled master exits as usual (daemon threads)', { timeout: 30000 }, async () => {
  const shadowed = privateDir();
  fs.writeFileSync(path.join(shadowed, 'sitecustomize.py'), 'import sys\nsys.stdout.write("shadowed sitecustomize ran\\n")\n');
  const hub = await AgentHub.start();
  try {
    const run = (extra: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string; ms: number }>((resolve, reject) => {
        const env: NodeJS.ProcessEnv = { ...process.env };
        for (const key of Object.keys(env)) if (key.startsWith('SERVER_WORKERS_')) delete env[key];
        Object.assign(env, { PYTHONPATH: [agentDir, shadowed].join(path.delimiter), ...extra });
        const started = Date.now();
        const child = spawn(testPython, ['-c', 'print("main ran")'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`python ${JSON.stringify(extra)} did not exit within 10 s`));
        }, 10000);
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, ms: Date.now() - started });
        });
      });
    const plain = await run({});
    assert.deepEqual(plain, { ...plain, code: 0, stdout: 'shadowed sitecustomize ran\nmain ran\n' });
    const asMaster = await run({
      SERVER_WORKERS_SOCKET: hub.socketPath,
      SERVER_WORKERS_TOKEN: hub.token,
      SERVER_WORKERS_ROLE: 'master',
      SERVER_WORKERS_SERVER: 'gunicorn',
      SERVER_WORKERS_WATCH_PID: String(process.pid),
    });
    assert.deepEqual(asMaster, { ...asMaster, code: 0, stdout: 'shadowed sitecustomize ran\nmain ran\n' });
    assert.ok(asMaster.ms < 5000, `an agent-enabled interpreter took ${asMaster.ms} ms to exit`);
    await waitFor('the master hello', 2000, () => hub.master());
  } finally {
    await hub.close();
    fs.rmSync(shadowed, { recursive: true, force: true });
  }
});
