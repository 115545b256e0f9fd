/**
 * Debugging one worker (docs/agent-protocol.md, "Debugging"): a DAP client attaches to debugpy in a worker of real
 * servers, through the worker's private Unix socket; a breakpoint holds it longer than the servers' own timeouts, the
 * other workers keep serving, and nothing (worker, debugger socket) outlives the stop.
 */
import * as assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import type { WorkerModel } from '../../src/core/model';
import { isAlive } from '../../src/core/process/procfs';
import { agentDir, oldUvicornPython, testPython } from '../support/paths';
import { DapClient, debugSocketOf, sendUntilStopped, threadOf } from './dapClient';
import { appsDir, createServer, eventually, get, linesOf, stopAndCheck, type TestServer } from './support';

/** Longer than the servers' timeouts below: Gunicorn `--timeout 2`, Uvicorn's 5 s health check. */
const HOLD_MS = 6500;
const GUNICORN_TIMEOUT = 2;

const servers: TestServer[] = [];
const clients: DapClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.supervisor.stop();
});

function lineOf(file: string, text: string): number {
  const index = fs.readFileSync(file, 'utf8').split('\n').findIndex((line) => line.includes(text));
  assert.ok(index >= 0, `"${text}" is in ${file}`);
  return index + 1;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Answer {
  pid?: number;
  error?: string;
}

/** GET that never rejects: the pid that answered, or why there was no answer. */
function getPid(port: number, pathname = '/pid', timeoutMs = 30000): Promise<Answer> {
  return get(port, pathname, timeoutMs).then(
    ({ body }) => ({ pid: body.pid as number }),
    (error: Error) => ({ error: error.message }),
  );
}

/** Asks the worker's agent to start debugpy; returns the Unix socket it listens on (see debugSocketOf). */
async function debugSocket(server: TestServer, slot: number): Promise<string> {
  const reply = await server.supervisor.requestWorker(slot, { t: 'debug' }, 60000);
  return debugSocketOf(reply, worker(server, slot).pid);
}

function worker(server: TestServer, slot: number): WorkerModel {
  const found = server.supervisor.model().workers.find((w) => w.slot === slot);
  assert.ok(found, `worker ${slot} exists`);
  return found;
}

const attachKinds: Array<[string, Partial<ServerDefinition>, string, string]> = [
  ['gunicorn + UvicornWorker', { app: 'echo_asgi:app', timeout: GUNICORN_TIMEOUT }, 'echo_asgi.py', 'query = parse_qs(scope'],
  ['gunicorn sync (Flask)', { app: 'flask_app:app', workerClass: 'sync', timeout: GUNICORN_TIMEOUT }, 'flask_app.py', 'return {"pid": os.getpid()}'],
  ['uvicorn --workers', { server: 'uvicorn', app: 'echo_asgi:app' }, 'echo_asgi.py', 'query = parse_qs(scope'],
  // Not Granian: its Rust runtime goes on accepting connections for a worker paused at a breakpoint (they wait).
  ['hypercorn --workers', { server: 'hypercorn', app: 'echo_asgi:app' }, 'echo_asgi.py', 'query = parse_qs(scope'],
];

for (const [title, definition, appFile, breakpointText] of attachKinds) {
  describe(`attach to a worker: ${title}`, { timeout: 90000 }, () => {
    it('stops at a breakpoint in a handler, stays paused past the timeouts while the others serve, then answers', async () => {
      const server = await createServer({ ...definition, workers: 3 });
      servers.push(server);
      await server.supervisor.start();
      const file = path.join(appsDir, appFile);
      const line = lineOf(file, breakpointText);
      const target = worker(server, 2);

      const socketPath = await debugSocket(server, 2);
      assert.strictEqual((await server.supervisor.requestWorker(2, { t: 'debug' })).path, socketPath, 'a second debug command gives the same socket');
      const client = await DapClient.connect(socketPath);
      clients.push(client);
      await client.attach({ [file]: [line] });

      const { event, sent: pending } = await sendUntilStopped(client, () => getPid(server.port));
      const frame = await client.topFrame(threadOf(event));
      assert.strictEqual(frame.line, line, `stopped at line ${line}`);
      assert.strictEqual(frame.source?.path, file);
      const pausedAt = Date.now();

      // While it is paused: the others answer, and it is neither killed nor replaced.
      const during: Answer[] = [];
      while (Date.now() - pausedAt < HOLD_MS) {
        const answers = await Promise.all([getPid(server.port, '/pid', 3000), getPid(server.port, '/pid', 3000)]);
        during.push(...answers);
        await sleep(200);
      }
      const answered = during.filter((a) => a.pid !== undefined);
      assert.ok(answered.length >= 10, `the other workers answered while one was paused (${answered.length} of ${during.length})`);
      assert.ok(answered.every((a) => a.pid !== target.pid), 'no answer came from the paused worker');
      assert.strictEqual(worker(server, 2).pid, target.pid, 'the paused worker was not replaced');
      assert.ok(isAlive(target.pid), 'the paused worker is alive');
      assert.strictEqual(worker(server, 2).restarts, 0);
      assert.ok(!server.output.some((e) => e.lines.some((l) => /WORKER TIMEOUT/.test(l))), 'no WORKER TIMEOUT');
      assert.ok(!linesOf(server, 0).some((l) => /died|Child process \[\d+\] died/.test(l)), 'Uvicorn did not find it dead');

      await client.request('continue', { threadId: threadOf(event) });
      await client.request('setBreakpoints', { source: { path: file }, breakpoints: [] });
      const answers = await Promise.all(pending);
      assert.ok(answers.every((a) => a.pid !== undefined), `every request sent got its answer: ${JSON.stringify(answers.filter((a) => a.error))}`);
      assert.ok(answers.some((a) => a.pid === target.pid), 'the paused worker answered once it continued');

      await client.disconnect();
      // A worker stays slower once debugpy has traced it: the extension recycles it when the session ends, where the
      // server replaces it (Hypercorn would stop with it).
      if (server.supervisor.model().capabilities?.respawnsWorkers) {
        await server.supervisor.killWorker(2, 'SIGTERM');
        assert.notStrictEqual(worker(server, 2).pid, target.pid, 'slot 2 has a new worker');
        assert.ok(!isAlive(target.pid), 'the debugged worker is gone');
        await eventually('the debugger socket to go with its worker', () => !fs.existsSync(socketPath), 15000);
      }
      await stopAndCheck(server);
    });
  });
}

const launchKinds: Array<[string, Partial<ServerDefinition>]> = [
  ['gunicorn + UvicornWorker', { app: 'echo_asgi:app', timeout: GUNICORN_TIMEOUT }],
  ['uvicorn --workers', { server: 'uvicorn', app: 'echo_asgi:app' }],
  ['granian --interface asgi', { server: 'granian', app: 'echo_asgi:app' }],
  ['hypercorn --workers', { server: 'hypercorn', app: 'echo_asgi:app' }],
];

for (const [title, definition] of launchKinds) {
  describe(`launch with a worker waiting for the debugger: ${title}`, { timeout: 90000 }, () => {
    it('holds the chosen worker before the app is imported; breakpoints at module level and in the lifespan startup hit', async () => {
      const booted: WorkerModel[] = [];
      const server = await createServer({ ...definition, workers: 2 }, {
        agentDir,
        onWorkerBoot: (w) => {
          booted.push(w);
          return Promise.resolve(w.slot === 1 ? { debug: { timeout: 60 } } : {});
        },
      });
      servers.push(server);
      const file = path.join(appsDir, 'echo_asgi.py');
      const moduleLine = lineOf(file, 'logger = logging.getLogger("echo_asgi")');
      const startupLine = lineOf(file, 'if message["type"] == "lifespan.startup":');

      let started = false;
      const starting = server.supervisor.start().then(() => (started = true));
      starting.catch(() => undefined);
      await eventually('both workers to connect', () => server.supervisor.model().workers.length === 2 && server.supervisor.model().workers.every((w) => w.pid > 0), 30000);
      const socketPath = await debugSocket(server, 1);
      // Worker 2 booted normally and serves while worker 1 waits for its debugger.
      await eventually('worker 2 to be ready', () => worker(server, 2).state === 'ready', 30000);
      assert.strictEqual(worker(server, 1).state, 'booting', 'worker 1 waits for the debugger');
      const early = await getPid(server.port, '/pid', 5000);
      assert.strictEqual(early.pid, worker(server, 2).pid, 'worker 2 answers');

      const client = await DapClient.connect(socketPath);
      clients.push(client);
      await client.attach({ [file]: [moduleLine, startupLine] });
      const atModule = await client.waitForEvent('stopped', (e) => e.body?.reason === 'breakpoint', 30000);
      assert.strictEqual((await client.topFrame(threadOf(atModule))).line, moduleLine, 'stopped at module level');
      // Held past the timeouts before the app is even imported.
      await sleep(HOLD_MS);
      assert.strictEqual(worker(server, 1).state, 'booting');
      assert.strictEqual(worker(server, 1).restarts, 0, 'the held worker was not replaced');
      assert.ok(isAlive(worker(server, 1).pid));
      assert.ok(!started, 'start() waits for the held worker');
      const since = client.events.length;
      await client.request('continue', { threadId: threadOf(atModule) });
      const atStartup = await client.waitForEvent('stopped', (e) => e.body?.reason === 'breakpoint', 30000, since);
      assert.strictEqual((await client.topFrame(threadOf(atStartup))).line, startupLine, 'stopped in the lifespan startup');
      await client.request('setBreakpoints', { source: { path: file }, breakpoints: [] });
      await client.request('continue', { threadId: threadOf(atStartup) });
      await starting;
      assert.deepStrictEqual(server.supervisor.model().workers.map((w) => w.state), ['ready', 'ready']);
      assert.deepStrictEqual(booted.map((w) => w.slot).sort(), [1, 2], 'every worker was held for its boot answer');
      await client.disconnect();
      await stopAndCheck(server);
      assert.ok(!fs.existsSync(socketPath), 'the debugger socket is gone with the server');
    });
  });
}

describe('debugpy not in the server\'s interpreter (Uvicorn 0.29 virtualenv)', { timeout: 60000 }, () => {
  it('says so; with debugpyPath (the Python Debugger extension\'s bundled copy) it debugs', async () => {
    const server = await createServer({ server: 'uvicorn', app: 'echo_asgi:app', workers: 2, python: oldUvicornPython });
    servers.push(server);
    await server.supervisor.start();
    const missing = await server.supervisor.requestWorker(1, { t: 'debug' }, 30000);
    assert.strictEqual(missing.t, 'error');
    assert.match(String(missing.error), /^debugpy is not installed in the Python interpreter .*\.venv-uvicorn-0\.29\/bin\/python/);

    // A folder holding only debugpy, as the Python Debugger extension bundles it (bundled/libs/debugpy).
    const bundled = fs.mkdtempSync(path.join(os.tmpdir(), 'bundled-debugpy-'));
    try {
      // One too old to listen by itself (in_process_debug_adapter, 1.6.4): refused before it is asked to listen.
      fs.mkdirSync(path.join(bundled, 'old', 'debugpy'), { recursive: true });
      fs.writeFileSync(path.join(bundled, 'old', 'debugpy', '__init__.py'), '__version__ = "1.6.3"\n\ndef listen(address):\n    raise AssertionError("asked to listen")\n');
      const old = await server.supervisor.requestWorker(2, { t: 'debug', debugpyPath: path.join(bundled, 'old') }, 30000);
      assert.strictEqual(old.t, 'error', JSON.stringify(old));
      assert.match(String(old.error), /^debugpy 1\.6\.3 \(in .*\) is too old to debug a worker: Server Workers needs debugpy 1\.6\.4 or later .*pip install -U debugpy$/);

      const site = execFileSync(testPython, ['-c', 'import debugpy, os; print(os.path.dirname(debugpy.__file__))'], { encoding: 'utf8' }).trim();
      fs.symlinkSync(site, path.join(bundled, 'debugpy'));
      const reply = await server.supervisor.requestWorker(1, { t: 'debug', debugpyPath: bundled }, 60000);
      const socketPath = debugSocketOf(reply, worker(server, 1).pid);
      const client = await DapClient.connect(socketPath);
      clients.push(client);
      const file = path.join(appsDir, 'echo_asgi.py');
      const line = lineOf(file, 'query = parse_qs(scope');
      await client.attach({ [file]: [line] });
      const { event, sent: pending } = await sendUntilStopped(client, () => getPid(server.port));
      assert.strictEqual((await client.topFrame(threadOf(event))).line, line);
      await client.request('setBreakpoints', { source: { path: file }, breakpoints: [] });
      await client.request('continue', { threadId: threadOf(event) });
      assert.ok((await Promise.all(pending)).every((a) => a.pid !== undefined), 'every request got its answer');
      // The server stops while the client is still attached: the debugger says the session is over ("terminated"),
      // and the client leaves (as VS Code does on "terminated").
      await stopAndCheck(server);
      await client.waitForEvent('terminated', () => true, 15000);
      await client.disconnect();
      assert.ok(!fs.existsSync(socketPath), 'the debugger socket is gone with the server');
    } finally {
      fs.rmSync(bundled, { recursive: true, force: true });
    }
  });
});

describe('the debugger\'s client goes away (gunicorn + UvicornWorker)', { timeout: 90000 }, () => {
  it('a client that dies at a breakpoint without a disconnect frees the worker; the server\'s stop tells the next one "terminated"', async () => {
    const server = await createServer({ app: 'echo_asgi:app', workers: 2 });
    servers.push(server);
    await server.supervisor.start();
    const file = path.join(appsDir, 'echo_asgi.py');
    const line = lineOf(file, 'query = parse_qs(scope');
    const socketPath = await debugSocket(server, 1);

    const first = await DapClient.connect(socketPath);
    clients.push(first);
    await first.attach({ [file]: [line] });
    const { sent } = await sendUntilStopped(first, () => getPid(server.port));
    first.close(); // gone, as a killed editor would be: no disconnect
    const answers = await Promise.all(sent);
    assert.deepStrictEqual(answers.filter((a) => a.pid === undefined), [], 'the worker resumed: every request got its answer');
    assert.ok(answers.some((a) => a.pid === worker(server, 1).pid), 'the debugged worker answered');

    const second = await DapClient.connect(socketPath);
    clients.push(second);
    await second.attach({ [file]: [line] });
    const { event, sent: more } = await sendUntilStopped(second, () => getPid(server.port));
    assert.strictEqual((await second.topFrame(threadOf(event))).line, line, 'the next session stops at the breakpoint');
    await second.request('setBreakpoints', { source: { path: file }, breakpoints: [] });
    await second.request('continue', { threadId: threadOf(event) });
    assert.ok((await Promise.all(more)).every((a) => a.pid !== undefined), 'every request got its answer');

    // Uvicorn ends a worker it stopped by raising the signal again (no atexit): the client still hears "terminated",
    // which VS Code needs to end the session quietly rather than report its debug adapter as crashed.
    await stopAndCheck(server);
    await second.waitForEvent('terminated', () => true, 15000);
    second.close();
    assert.ok(!fs.existsSync(socketPath), 'the debugger socket is gone with the server');
  });
});

describe('stop while a worker waits for its debugger', { timeout: 60000 }, () => {
  it('ends the hold at once: the stop is prompt and leaves nothing', async () => {
    const server = await createServer({ app: 'echo_asgi:app', workers: 2, timeout: GUNICORN_TIMEOUT, gracefulTimeout: 10 }, {
      agentDir,
      onWorkerBoot: (w) => Promise.resolve(w.slot === 1 ? { debug: { timeout: 60 } } : {}),
    });
    servers.push(server);
    const starting = server.supervisor.start();
    const startError = starting.then(() => undefined, (error: Error) => error);
    await eventually('both workers to connect', () => server.supervisor.model().workers.length === 2, 30000);
    const socketPath = await debugSocket(server, 1);
    await eventually('worker 2 to be ready', () => worker(server, 2).state === 'ready', 30000);
    await sleep(GUNICORN_TIMEOUT * 1000 + 1500);
    assert.strictEqual(worker(server, 1).state, 'booting', 'worker 1 still waits, past Gunicorn\'s timeout');
    assert.strictEqual(worker(server, 1).restarts, 0);
    const stopAt = Date.now();
    await stopAndCheck(server);
    assert.ok(Date.now() - stopAt < 8000, `the stop took ${Date.now() - stopAt} ms, less than the graceful timeout`);
    assert.match((await startError)?.message ?? '', /stopped/, 'start() reports the stop');
    assert.ok(!fs.existsSync(socketPath), 'the debugger socket is gone with the server');
  });
});
