/**
 * The in-worker agent (python/) against real servers: Gunicorn (Uvicorn workers, sync workers), Uvicorn's own
 * supervisor (0.54 and 0.29), Granian, Hypercorn. A plain `net` server stands in for the supervisor's end of
 * docs/agent-protocol.md.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareVersions, detectEnvironment } from '../../src/core/pythonEnvironment';
import { agentDir, fixturesDir, oldUvicornPython, testPython } from '../support/paths';
import { freePort } from '../support/ports';

const appsDir = path.join(fixturesDir, 'apps');
const LINES_PER_REQUEST = 5;

// ---- waiting ------------------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something other than undefined/false; fails with `what` after `timeoutMs`. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Like waitFor, with an async probe. */
async function waitForAsync(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

// ---- /proc --------------------------------------------------------------------------------------------------------

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: fields[19] };
}

/** Every process of a group, with its start time (a pid that comes back with another start time is someone else). */
function groupMembers(pgid: number): Map<number, string> {
  const members = new Map<number, string>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.set(Number(entry), stat.startTime);
  }
  return members;
}

/** Alive: in /proc, not a zombie, and (when known) the same process as when first seen. */
function isAlive(pid: number, startTime?: string): boolean {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

// ---- the supervisor's end ---------------------------------------------------------------------------------------

interface Hello {
  token: string;
  channel: 'data' | 'control';
  role: 'master' | 'worker';
  pid: number;
  ppid: number;
}

type Message = { t: string; [key: string]: unknown };

class AgentConnection {
  hello: Hello | undefined;
  readonly messages: Message[] = [];
  /** Control lines that were not JSON (the hub never throws from a socket event). */
  readonly errors: string[] = [];
  private pending = Buffer.alloc(0);
  private readonly dataChunks: Buffer[] = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  /** Everything after the hello on a data connection. */
  get text(): string {
    return Buffer.concat(this.dataChunks).toString('utf8');
  }

  send(message: Record<string, unknown>): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  private receive(chunk: Buffer): void {
    if (this.hello?.channel === 'data') {
      this.dataChunks.push(chunk);
      return;
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    for (let newline = this.pending.indexOf(10); newline !== -1; newline = this.pending.indexOf(10)) {
      const line = this.pending.subarray(0, newline).toString('utf8');
      this.pending = this.pending.subarray(newline + 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.errors.push(`not JSON: ${JSON.stringify(line)}`);
        continue;
      }
      if (!this.hello) {
        this.hello = parsed as Hello;
        if (this.hello.channel === 'data') {
          if (this.pending.length > 0) this.dataChunks.push(this.pending);
          this.pending = Buffer.alloc(0);
          return;
        }
      } else {
        this.messages.push(parsed as Message);
      }
    }
  }
}

class AgentHub {
  readonly token = randomBytes(16).toString('hex');
  readonly connections: AgentConnection[] = [];
  readonly dir = privateDir();
  readonly socketPath = path.join(this.dir, 'agent.sock');
  private readonly server = net.createServer((socket) => this.connections.push(new AgentConnection(socket)));

  static async start(): Promise<AgentHub> {
    const hub = new AgentHub();
    await new Promise<void>((resolve, reject) => {
      hub.server.once('error', reject);
      hub.server.listen(hub.socketPath, () => resolve());
    });
    return hub;
  }

  with(filter: Partial<Hello>): AgentConnection[] {
    return this.connections.filter(
      (c) => c.hello !== undefined && Object.entries(filter).every(([key, value]) => c.hello![key as keyof Hello] === value),
    );
  }

  /** The one master control connection (fails when there are several). */
  master(): AgentConnection | undefined {
    const masters = this.with({ role: 'master' });
    assert.ok(masters.length <= 1, `expected one master connection, got ${masters.length}`);
    return masters[0];
  }

  workerPids(): number[] {
    return [...new Set(this.with({ role: 'worker' }).map((c) => c.hello!.pid))];
  }

  data(pid: number): AgentConnection | undefined {
    return this.with({ role: 'worker', channel: 'data', pid })[0];
  }

  control(pid: number): AgentConnection | undefined {
    return this.with({ role: 'worker', channel: 'control', pid })[0];
  }

  isReady(pid: number): boolean {
    return this.control(pid)?.messages.some((m) => m.t === 'ready') ?? false;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function privateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-agent-'));
  fs.chmodSync(dir, 0o700);
  return dir;
}

// ---- the server under test --------------------------------------------------------------------------------------

interface ServerOptions {
  python: string;
  server: 'gunicorn' | 'uvicorn' | 'granian' | 'hypercorn';
  args: (port: number) => string[];
  /** The agent's environment: a hub, or a socket path where nothing listens. */
  hub?: AgentHub;
  socketPath?: string;
  watchPid?: number;
}

class RunningServer {
  stdout = '';
  stderr = '';
  /** Every pid seen in the server's process group, with its start time. */
  readonly known = new Map<number, string>();
  exited = false;

  constructor(readonly child: ChildProcess, readonly port: number) {
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    child.once('exit', () => (this.exited = true));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Records the group's current members (and `pids`) so that cleanup can prove they are all gone. */
  remember(pids: number[] = []): void {
    for (const [pid, start] of groupMembers(this.pid)) if (!this.known.has(pid)) this.known.set(pid, start);
    for (const pid of pids) {
      const stat = procStat(pid);
      if (stat && !this.known.has(pid)) this.known.set(pid, stat.startTime);
    }
  }

  alivePids(): number[] {
    const alive = [...this.known].filter(([pid, start]) => isAlive(pid, start)).map(([pid]) => pid);
    for (const pid of groupMembers(this.pid).keys()) if (!alive.includes(pid)) alive.push(pid);
    return alive;
  }
}

async function startServer(options: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SERVER_WORKERS_')) delete env[key];
  Object.assign(env, {
    SERVER_WORKERS_SOCKET: options.hub?.socketPath ?? options.socketPath,
    SERVER_WORKERS_TOKEN: options.hub?.token ?? 'no-one-listens',
    SERVER_WORKERS_ROLE: 'master',
    SERVER_WORKERS_SERVER: options.server,
    SERVER_WORKERS_WATCH_PID: String(options.watchPid ?? process.pid),
    PYTHONPATH: agentDir,
    PYTHONUNBUFFERED: '1',
  });
  const child = spawn(options.python, ['-m', options.server, ...options.args(port)], {
    cwd: appsDir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  const server = new RunningServer(child, port);
  server.remember();
  return server;
}

/** SIGKILLs the whole group and proves that no process of the server is left. */
async function cleanup(server: RunningServer | undefined, hub: AgentHub | undefined): Promise<void> {
  try {
    if (server) {
      server.remember(hub?.connections.filter((c) => c.hello).map((c) => c.hello!.pid) ?? []);
      try {
        process.kill(-server.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
      await waitFor(`no process of the server (group ${server.pid}) to be left`, 5000, () => server.alivePids().length === 0);
      await waitFor('the master to be reaped', 5000, () => server.exited);
    }
  } finally {
    await hub?.close();
  }
}

function serverFailure(server: RunningServer): string {
  return `\n--- master stdout ---\n${server.stdout}\n--- master stderr ---\n${server.stderr}`;
}

// ---- HTTP -----------------------------------------------------------------------------------------------------------

function httpGet(port: number, urlPath: string, timeoutMs = 10000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: urlPath, agent: false, headers: { Connection: 'close' }, timeout: timeoutMs },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${urlPath} timed out after ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/**
 * Bursts of concurrent GET /log until every worker in `workers` has served some (bounded): returns how many requests
 * each pid served.
 */
async function logBursts(port: number, workers: number[], concurrency = 12, maxBursts = 15): Promise<Map<number, number>> {
  const served = new Map<number, number>();
  for (let burst = 0; burst < maxBursts; burst++) {
    const replies = await Promise.all(
      Array.from({ length: concurrency }, () => httpGet(port, `/log?n=${LINES_PER_REQUEST}`)),
    );
    for (const reply of replies) {
      assert.equal(reply.status, 200, `GET /log answered ${reply.status}: ${reply.body}`);
      const { pid } = JSON.parse(reply.body) as { pid: number };
      served.set(pid, (served.get(pid) ?? 0) + 1);
    }
    if (workers.every((pid) => served.has(pid))) break;
  }
  for (const pid of served.keys()) assert.ok(workers.includes(pid), `pid ${pid} served a request but is not a known worker`);
  assert.deepEqual(
    workers.filter((pid) => !served.has(pid)),
    [],
    `every worker should serve some of ${maxBursts} bursts of ${concurrency} (served: ${JSON.stringify([...served])})`,
  );
  return served;
}

const MARKER = /(?:^|[^A-Za-z])(print|log|sub)-\d/;
const EXACT = /^(?:(print|log)-(\d+)-(\d+)|sub-(\d+))$/;

/** The lines of `text` that carry a marker; fails on a marker line that is not exactly one marker (split or merged). */
function markerLines(text: string, where: string): { kind: string; pid: number; index: number }[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const trailing = text.slice(complete.length);
  assert.ok(!MARKER.test(trailing), `${where}: unterminated marker line ${JSON.stringify(trailing)}`);
  const found: { kind: string; pid: number; index: number }[] = [];
  for (const line of complete.split('\n')) {
    if (!MARKER.test(line)) continue;
    const match = EXACT.exec(line);
    assert.ok(match, `${where}: a marker line is split or merged: ${JSON.stringify(line)}`);
    if (match[4] !== undefined) found.push({ kind: 'sub', pid: Number(match[4]), index: 0 });
    else found.push({ kind: match[1], pid: Number(match[2]), index: Number(match[3]) });
  }
  return found;
}

/** What a worker that served `count` requests must have written. */
function expectedCounts(pid: number, count: number): Map<string, number> {
  const expected = new Map<string, number>();
  for (let i = 0; i < LINES_PER_REQUEST; i++) {
    expected.set(`print-${pid}-${i}`, count);
    expected.set(`log-${pid}-${i}`, count);
  }
  expected.set(`sub-${pid}`, count);
  return expected;
}

function countsIn(lines: { kind: string; pid: number; index: number }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const key = line.kind === 'sub' ? `sub-${line.pid}` : `${line.kind}-${line.pid}-${line.index}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Every worker's lines on its own data connection only, none missing, none split; none on the master's pipes. */
async function assertPerWorkerOutput(hub: AgentHub, server: RunningServer, served: Map<number, number>): Promise<void> {
  const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b));
  for (const [pid, count] of served) {
    const expected = expectedCounts(pid, count);
    // Output may trail the HTTP reply a little: wait for it, then compare exactly.
    await waitFor(`the output of ${count} requests on worker ${pid}'s data connection`, 5000, () => {
      const counts = countsIn(markerLines(hub.data(pid)!.text, `worker ${pid}`));
      return [...expected].every(([key, n]) => (counts.get(key) ?? 0) >= n);
    });
  }
  await sleep(200); // anything extra or misrouted would show up now
  for (const pid of hub.workerPids()) {
    const connection = hub.data(pid);
    assert.ok(connection, `worker ${pid} has no data connection`);
    const lines = markerLines(connection.text, `worker ${pid}`);
    const strangers = lines.filter((line) => line.pid !== pid);
    assert.deepEqual(strangers, [], `worker ${pid}'s stream holds lines of other processes`);
    assert.deepEqual(sorted(countsIn(lines)), sorted(expectedCounts(pid, served.get(pid) ?? 0)).filter(([, n]) => n > 0));
  }
  assert.deepEqual(markerLines(server.stdout, 'master stdout'), [], `worker lines on the master's stdout${serverFailure(server)}`);
  assert.deepEqual(markerLines(server.stderr, 'master stderr'), [], `worker lines on the master's stderr${serverFailure(server)}`);
}

/** One master control hello from the spawned process, `count` workers (data + control, children of it), all ready. */
async function assertBooted(hub: AgentHub, server: RunningServer, count: number): Promise<number[]> {
  try {
    await waitFor(`${count} workers to connect and be ready`, 20000, () => {
      const pids = hub.workerPids();
      return pids.length === count && pids.every((pid) => hub.data(pid) && hub.control(pid) && hub.isReady(pid));
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}${serverFailure(server)}`, { cause: error });
  }
  const master = hub.master();
  assert.ok(master, 'no master connection');
  assert.equal(master.hello!.pid, server.pid);
  assert.equal(master.hello!.channel, 'control');
  assert.equal(master.hello!.token, hub.token);
  assert.equal(hub.with({ role: 'master', channel: 'data' }).length, 0, 'the master must not open a data connection');
  const pids = hub.workerPids();
  assert.equal(new Set(pids).size, count);
  assert.deepEqual(hub.connections.flatMap((c) => c.errors), [], 'every control line is JSON');
  for (const pid of pids) {
    for (const connection of hub.with({ role: 'worker', pid })) {
      assert.equal(connection.hello!.ppid, server.pid, `worker ${pid}'s hello names ppid ${connection.hello!.ppid}`);
      assert.equal(connection.hello!.token, hub.token);
    }
    assert.equal(procStat(pid)?.ppid, server.pid, `worker ${pid} is not a child of the master in /proc`);
    assert.equal(hub.with({ role: 'worker', pid, channel: 'data' }).length, 1);
    assert.equal(hub.with({ role: 'worker', pid, channel: 'control' }).length, 1);
    assert.equal(hub.control(pid)!.messages.filter((m) => m.t === 'ready').length, 1, `worker ${pid}: one ready message`);
  }
  server.remember(pids);
  return pids;
}

/** GET /crash kills the worker that serves it: the master reports the SIGKILL, and a new worker says hello. */
async function assertCrashAndRespawn(hub: AgentHub, server: RunningServer, workers: number[]): Promise<void> {
  await httpGet(server.port, '/crash').then(
    (reply) => assert.fail(`GET /crash answered ${reply.status}`),
    () => undefined, // the worker died with the connection open
  );
  const master = hub.master()!;
  const exit = await waitFor('an exit message for the crashed worker', 5000, () =>
    master.messages.find((m) => m.t === 'exit' && workers.includes(m.pid as number)),
  );
  assert.deepEqual(exit, { t: 'exit', pid: exit.pid, code: null, signal: 'SIGKILL' });
  assert.ok(!isAlive(exit.pid as number), `worker ${String(exit.pid)} is still alive`);
  const fresh = await waitFor('a new worker to connect and be ready', 10000, () =>
    hub.workerPids().find((pid) => !workers.includes(pid) && hub.data(pid) && hub.isReady(pid)),
  );
  assert.equal(hub.control(fresh)!.hello!.ppid, server.pid);
  assert.equal(procStat(fresh)?.ppid, server.pid);
  server.remember([fresh]);
}

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

/** Each worker's own log line that says it serves is in its own stream (the agent said ready once it was written). */
async function assertServingLine(hub: AgentHub, workers: number[], line: RegExp): Promise<void> {
  for (const pid of workers) await waitFor(`${String(line)} in worker ${pid}'s stream`, 2000, () => line.test(hub.data(pid)!.text));
}

/** Starts a server with a hub; runs `body`; always cleans up. */
async function withServer(
  options: Omit<ServerOptions, 'hub'>,
  body: (hub: AgentHub, server: RunningServer) => Promise<void>,
): Promise<void> {
  const hub = await AgentHub.start();
  let server: RunningServer | undefined;
  try {
    server = await startServer({ ...options, hub });
    await body(hub, server);
  } finally {
    await cleanup(server, hub);
  }
}

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
