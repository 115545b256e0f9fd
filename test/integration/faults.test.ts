/** Faults and bad input: nothing lost or left behind. */
import * as assert from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, it } from 'node:test';
import { DefinitionError, resolveDefinition, type ServerDefinition } from '../../src/core/definition';
import { ServerError } from '../../src/core/errors';
import { isAlive, processGroupMembers } from '../../src/core/process/procfs';
import { listRuntimeDirs, ownerOf, sweepAbandonedRuntimeDirs } from '../../src/core/process/runtimeDirs';
import { repoRoot, testPython } from '../support/paths';
import { appsDir, assertModelMatchesProc, createServer, eventually, freePort, get, linesOf, portFree, stopAndCheck } from './support';

/** A supervisor in a process of its own (the CLI, --json), to be killed; resolves once its server has started. */
async function startCliServer(port: number, workers: number): Promise<{ cli: ChildProcess; started: Record<string, unknown> }> {
  const cli = spawn(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'run', '--app', 'echo_asgi:app', '--workers', String(workers), '--bind', `127.0.0.1:${port}`, '--python', testPython, '--json'], { cwd: appsDir, stdio: ['pipe', 'pipe', 'inherit'] });
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no started event')), 30000);
    readline.createInterface({ input: cli.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as Record<string, unknown>;
      if (event.event === 'started') {
        clearTimeout(timer);
        resolve(event);
      }
    });
  });
  return { cli, started };
}

describe('the supervising process dies', { timeout: 60000 }, () => {
  it('SIGKILL to the supervisor (as when the extension host is killed): within 2 s no server process remains and the port is free', async () => {
    const port = await freePort();
    const { cli, started } = await startCliServer(port, 3);
    const masterPid = started.masterPid as number;
    const pids = [masterPid, ...(started.workers as Array<{ pid: number }>).map((w) => w.pid)];
    assert.ok(pids.every(isAlive));
    const killedAt = Date.now();
    cli.kill('SIGKILL');
    await eventually('every process of the server to be gone', () => pids.every((p) => !isAlive(p)) && processGroupMembers(masterPid).length === 0, 2000);
    assert.ok(Date.now() - killedAt <= 2000);
    assert.ok(await portFree(port), 'the port is free again');
  });

  it('the runtime folder a killed supervisor left is swept by the next one; a live server\'s folder is kept', async () => {
    // Folders are told apart by their owner (other runs on the machine make folders too).
    const ownedBy = (pid: number) => listRuntimeDirs().filter((dir) => ownerOf(dir)?.pid === pid);
    const liveBefore = new Set(ownedBy(process.pid));
    const { cli, started } = await startCliServer(await freePort(), 1);
    try {
      const masterPid = started.masterPid as number;
      const abandoned = ownedBy(cli.pid!);
      assert.strictEqual(abandoned.length, 1, 'the CLI made one runtime folder');
      cli.kill('SIGKILL');
      await eventually('the server to be gone', () => !isAlive(masterPid) && processGroupMembers(masterPid).length === 0, 5000);
      assert.ok(fs.existsSync(abandoned[0]), 'a SIGKILLed supervisor cannot remove its folder');

      const live = await createServer({ workers: 1 });
      await live.supervisor.start();
      const liveDir = ownedBy(process.pid).find((d) => !liveBefore.has(d));
      assert.ok(liveDir, 'the live server has its folder');
      const removed = await sweepAbandonedRuntimeDirs(0);
      assert.ok(removed.includes(abandoned[0]), `the abandoned folder is swept (${JSON.stringify(removed)})`);
      assert.ok(!fs.existsSync(abandoned[0]));
      assert.ok(!removed.includes(liveDir) && fs.existsSync(liveDir), 'the live server\'s folder is kept');
      await stopAndCheck(live);
      assert.ok(!fs.existsSync(liveDir), 'a stop removes its own folder');
    } finally {
      cli.kill('SIGKILL');
    }
  });
});

describe('a stop during a restart ends it there', { timeout: 90000 }, () => {
  const pastTheRestartPolicysWait = () => new Promise((resolve) => setTimeout(resolve, 3000)); // its first wait is 1 s

  it('asked while the restart policy waits to start again a server whose master died: it stays stopped', async () => {
    const server = await createServer({ workers: 1 });
    await server.supervisor.start();
    process.kill(server.supervisor.pid!, 'SIGKILL');
    await eventually('the restart policy to take over', () => server.supervisor.serverState === 'restarting');
    await server.supervisor.stop();
    assert.strictEqual(server.supervisor.serverState, 'stopped');
    await pastTheRestartPolicysWait();
    assert.strictEqual(server.supervisor.serverState, 'stopped', 'the policy did not start it again');
    assert.ok(!isAlive(server.supervisor.pid!), 'no master runs');
    await stopAndCheck(server);
  });

  it('asked during a restart the user asked for: the restart rejects, saying it was stopped; it stays stopped', async () => {
    const server = await createServer({ workers: 1 });
    await server.supervisor.start();
    const restarting = server.supervisor.restart();
    await eventually('the restart to begin', () => server.supervisor.serverState === 'restarting');
    await server.supervisor.stop();
    await assert.rejects(restarting, (error: unknown) => error instanceof ServerError && error.reason === 'stopped');
    await pastTheRestartPolicysWait();
    assert.strictEqual(server.supervisor.serverState, 'stopped');
    assert.ok(!isAlive(server.supervisor.pid!), 'no master runs');
    await stopAndCheck(server);
  });
});

describe('chaos', { timeout: 240000 }, () => {
  it('100 random worker SIGKILLs under load: after each respawn the model equals /proc, channels continue, nothing leaks', async () => {
    const server = await createServer({ app: 'echo_asgi:app', workers: 4, gracefulTimeout: 2 });
    await server.supervisor.start();
    const listenersBefore = server.supervisor.listenerCounts();
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    let loading = true;
    let served = 0;
    let failedRequests = 0;
    const load = (async () => {
      while (loading) {
        try {
          await get(server.port, '/pid');
          served++;
        } catch {
          failedRequests++; // a request in flight on a killed worker is lost with it
        }
      }
    })();
    const kills = new Map<number, number>();
    try {
      for (let i = 0; i < 100; i++) {
        const slots = server.supervisor.model().workers.map((w) => w.slot);
        const slot = slots[Math.floor(Math.random() * slots.length)];
        await server.supervisor.killWorker(slot);
        kills.set(slot, (kills.get(slot) ?? 0) + 1);
        assertModelMatchesProc(server.supervisor.model(), 4);
      }
    } finally {
      loading = false;
      await load;
      if (server.supervisor.serverState !== 'running') await server.supervisor.stop();
    }
    const model = server.supervisor.model();
    for (const worker of model.workers) {
      assert.strictEqual(worker.restarts, kills.get(worker.slot) ?? 0, `slot ${worker.slot}'s restart count equals its kills`);
      const markers = server.output.filter((e) => e.marker && e.slot === worker.slot && /restarted: pid \d+ killed by SIGKILL/.test(e.lines[0]));
      assert.strictEqual(markers.length, kills.get(worker.slot) ?? 0, `slot ${worker.slot}'s stream has a marker per respawn`);
      assert.ok(linesOf(server, worker.slot).some((l) => l.includes(`Booting worker with pid: ${worker.pid}`)), 'the stream continues with the newest worker');
    }
    assert.ok(served > 100, `the server kept serving (${served} requests, ${failedRequests} lost with killed workers)`);
    assert.deepStrictEqual(server.supervisor.listenerCounts(), listenersBefore, 'no listener or waiter leaks');
    // Short-lived timers (a socket's read rest, an exit check) come and go: the count must settle back, not grow per kill.
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await eventually(`the timers to settle back to ${timersBefore} (now ${timers()})`, () => timers() <= timersBefore, 3000);
    await stopAndCheck(server);
  });
});

const context = { defaultPython: testPython, defaultCwd: appsDir, defaultWorkers: 2 };
const marker = path.join(os.tmpdir(), `server-workers-injected-${process.pid}`);
const inject = `$(touch ${marker})`;

/** [title, definition, what the message must say] */
const invalidDefinitions: Array<[string, Record<string, unknown>, RegExp]> = [
  ['workers 0', { app: 'main:app', workers: 0 }, /"workers" must be a whole number from 1 to 64 \(got 0\)/],
  ['workers -1', { app: 'main:app', workers: -1 }, /"workers".*\(got -1\)/],
  ['workers "x"', { app: 'main:app', workers: 'x' }, /"workers".*\(got "x"\)/],
  ['workers 100000', { app: 'main:app', workers: 100000 }, /"workers".*\(got 100000\)/],
  ['workers 2.5', { app: 'main:app', workers: 2.5 }, /"workers"/],
  ['bind without a port', { app: 'main:app', bind: '127.0.0.1' }, /"bind" must be host:port/],
  ['bind with port 99999', { app: 'main:app', bind: '127.0.0.1:99999' }, /"bind"/],
  ['bind not a string', { app: 'main:app', bind: 8000 }, /"bind".*\(got 8000\)/],
  ['app main', { app: 'main' }, /"app" must look like module:attribute/],
  ['app main:', { app: 'main:' }, /"app" must look like/],
  ['app :app', { app: ':app' }, /"app" must look like/],
  ['app missing', {}, /"app" is required/],
  ['app with a shell command', { app: `main:app;${inject}` }, /"app" must look like/],
  ['server unknown', { app: 'main:app', server: 'waitress' }, /"server" must be "gunicorn", "uvicorn", "granian" or "hypercorn" \(got "waitress"\)/],
  ['granian interface unknown', { app: 'main:app', server: 'granian', interface: 'asgi3' }, /"interface" must be "asgi", "asginl", "rsgi" or "wsgi": how granian calls the app \(got "asgi3"\)/],
  ['interface for hypercorn', { app: 'main:app', server: 'hypercorn', interface: 'wsgi' }, /"interface" applies to granian only/],
  ['workerClass for granian', { app: 'main:app', server: 'granian', workerClass: 'sync' }, /"workerClass" applies to gunicorn only; remove it or set "server": "gunicorn" \(granian takes "interface"/],
  ['maxMemoryMb for hypercorn', { app: 'main:app', server: 'hypercorn', maxMemoryMb: 256 }, /"maxMemoryMb" is not available with hypercorn/],
  ['env value a number', { app: 'main:app', env: { PORT: 8000 } }, /"env\.PORT" must be a string/],
  ['env value an object', { app: 'main:app', env: { A: { b: 1 } } }, /"env\.A" must be a string/],
  ['env an array', { app: 'main:app', env: ['A=1'] }, /"env" must be an object of string values/],
  ['env name invalid', { app: 'main:app', env: { 'A-B': '1' } }, /"env" has an invalid variable name "A-B"/],
  ['args a string', { app: 'main:app', args: '--reload' }, /"args" must be an array of strings/],
  ['args with a number', { app: 'main:app', args: ['--workers', 2] }, /"args" must be an array of strings/],
  ['python empty', { app: 'main:app', python: '' }, /"python" must be a non-empty string/],
  ['cwd not a string', { app: 'main:app', cwd: 42 }, /"cwd" must be a non-empty string/],
  ['timeout negative', { app: 'main:app', timeout: -1 }, /"timeout" must be a whole number of seconds/],
  ['gracefulTimeout "10s"', { app: 'main:app', gracefulTimeout: '10s' }, /"gracefulTimeout" must be a whole number of seconds/],
  ['workerClass with spaces', { app: 'main:app', workerClass: 'uvicorn worker' }, /"workerClass" must be a class path/],
  ['workerClass for uvicorn', { app: 'main:app', server: 'uvicorn', workerClass: 'sync' }, /applies to gunicorn only/],
  ['certfile without keyfile', { app: 'main:app', certfile: 'cert.pem' }, /HTTPS needs both "certfile" and "keyfile"/],
  ['preLaunch a string', { app: 'main:app', preLaunch: 'python manage.py migrate' }, /"preLaunch" must be a list of commands, each an array of arguments/],
  ['preLaunch an empty command', { app: 'main:app', preLaunch: [[]] }, /"preLaunch" must be a list/],
  ['maxMemoryMb too small', { app: 'main:app', maxMemoryMb: 1 }, /"maxMemoryMb" must be a whole number of MiB from 16/],
  ['restart unknown', { app: 'main:app', restart: 'always' }, /"restart" must be "never" or "on-failure"/],
  ['restartMax negative', { app: 'main:app', restartMax: -2 }, /"restartMax" must be a whole number from 0 to 100/],
  ['not an object', 'main:app' as unknown as Record<string, unknown>, /must be an object/],
];

/** Valid definitions that cannot run: each start fails with a clear message, and nothing is left running. */
const failingStarts: Array<[string, Partial<ServerDefinition>, RegExp]> = [
  ['a module that does not exist', { app: 'no_such_module_here:app' }, /No module named 'no_such_module_here'/],
  ['an attribute that does not exist', { app: 'echo_asgi:no_such_attribute' }, /Failed to find attribute 'no_such_attribute' in 'echo_asgi'/],
  ['a python path that does not exist', { python: '/no/such/python3' }, /"\/no\/such\/python3" could not be run \(no such file\)/],
  ['a python path that is not Python', { python: '/bin/echo' }, /"\/bin\/echo" could not be run \(it does not look like Python/],
  ['a cwd that does not exist', { cwd: '/no/such/folder' }, /The working directory "\/no\/such\/folder" does not exist/],
  ['a missing certificate', { certfile: 'missing-cert.pem', keyfile: 'missing-key.pem' }, /certificate file ".*missing-cert\.pem" \("certfile"\) does not exist/],
  ['shell metacharacters in args', { args: [inject, '; touch ' + marker, '`touch ' + marker + '`'] }, /unrecognized arguments|usage:|error/i],
];

describe('bad input', { timeout: 120000 }, () => {
  for (const [title, raw, expected] of invalidDefinitions) {
    it(`rejects ${title}, saying what is wrong and where`, () => {
      assert.throws(() => resolveDefinition(raw, context), (error: Error) => {
        assert.ok(error instanceof DefinitionError);
        assert.match(error.message, expected);
        return true;
      });
    });
  }

  for (const [title, definition, expected] of failingStarts) {
    it(`fails to start on ${title}, and nothing is left running`, async () => {
      const server = await createServer({ workers: 2, ...definition });
      await assert.rejects(server.supervisor.start(), expected);
      await stopAndCheck(server);
      assert.ok(!fs.existsSync(marker), 'no shell ever ran the injected command');
    });
  }

  it('passes shell metacharacters in app-adjacent values and env literally: the server runs, nothing is executed', async () => {
    const server = await createServer({ workers: 1, env: { INJECTED: inject, OTHER: `; touch ${marker} && echo` } });
    await server.supervisor.start();
    await stopAndCheck(server);
    assert.ok(!fs.existsSync(marker), 'the marker file was never created');
  });

  it('drops a connection to the agent socket that does not complete the handshake', async () => {
    const server = await createServer({ workers: 1 });
    await server.supervisor.start();
    const socketDir = fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('server-workers-')).map((d) => path.join(os.tmpdir(), d))
      .find((d) => fs.existsSync(path.join(d, 'agent.sock')) && fs.statSync(d).mtimeMs > Date.now() - 60000)!;
    assert.strictEqual(fs.statSync(socketDir).mode & 0o777, 0o700, 'the socket directory is private');
    const before = server.supervisor.model().workers.length;
    const closed = await new Promise<boolean>((resolve) => {
      const socket = net.createConnection(path.join(socketDir, 'agent.sock'));
      socket.on('connect', () => socket.write(JSON.stringify({ token: 'wrong', channel: 'data', role: 'worker', pid: 1, ppid: 1 }) + '\n'));
      socket.on('close', () => resolve(true));
      socket.on('error', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    assert.ok(closed, 'the connection was closed');
    assert.strictEqual(server.supervisor.model().workers.length, before, 'and it did not become a worker');
    await stopAndCheck(server);
  });
});
