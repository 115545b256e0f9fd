/**
 * A real server run with the agent pointed at an AgentHub, for the agent's integration tests: start it, cleanup that
 * proves in /proc that nothing of it is left, HTTP requests, and the checks each server's scenario makes (hellos and
 * ready, per-worker output by its marker lines, a crash reported and respawned).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { agentDir, fixturesDir } from '../support/paths';
import { freePort } from '../support/ports';
import { AgentHub } from './agentHub';

const appsDir = path.join(fixturesDir, 'apps');
export const LINES_PER_REQUEST = 5;

// ---- waiting ------------------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something other than undefined/false; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Like waitFor, with an async probe. */
export async function waitForAsync(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
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
export function isAlive(pid: number, startTime?: string): boolean {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

// ---- the server under test --------------------------------------------------------------------------------------

export interface ServerOptions {
  python: string;
  server: 'gunicorn' | 'uvicorn' | 'granian' | 'hypercorn';
  args: (port: number) => string[];
  /** The agent's environment: a hub, or a socket path where nothing listens. */
  hub?: AgentHub;
  socketPath?: string;
  watchPid?: number;
}

export class RunningServer {
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

export async function startServer(options: ServerOptions): Promise<RunningServer> {
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
export async function cleanup(server: RunningServer | undefined, hub: AgentHub | undefined): Promise<void> {
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

export function serverFailure(server: RunningServer): string {
  return `\n--- master stdout ---\n${server.stdout}\n--- master stderr ---\n${server.stderr}`;
}

// ---- HTTP -----------------------------------------------------------------------------------------------------------

export function httpGet(port: number, urlPath: string, timeoutMs = 10000): Promise<{ status: number; body: string }> {
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
export async function logBursts(port: number, workers: number[], concurrency = 12, maxBursts = 15): Promise<Map<number, number>> {
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
export function markerLines(text: string, where: string): { kind: string; pid: number; index: number }[] {
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

export function countsIn(lines: { kind: string; pid: number; index: number }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const key = line.kind === 'sub' ? `sub-${line.pid}` : `${line.kind}-${line.pid}-${line.index}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Every worker's lines on its own data connection only, none missing, none split; none on the master's pipes. */
export async function assertPerWorkerOutput(hub: AgentHub, server: RunningServer, served: Map<number, number>): Promise<void> {
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
export async function assertBooted(hub: AgentHub, server: RunningServer, count: number): Promise<number[]> {
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
export async function assertCrashAndRespawn(hub: AgentHub, server: RunningServer, workers: number[]): Promise<void> {
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

/** Each worker's own log line that says it serves is in its own stream (the agent said ready once it was written). */
export async function assertServingLine(hub: AgentHub, workers: number[], line: RegExp): Promise<void> {
  for (const pid of workers) await waitFor(`${String(line)} in worker ${pid}'s stream`, 2000, () => line.test(hub.data(pid)!.text));
}

/** Starts a server with a hub; runs `body`; always cleans up. */
export async function withServer(
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
