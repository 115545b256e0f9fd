/**
 * Show Stack and the stack before a timeout kill, against real servers: a worker stuck in time.sleep, in a tight
 * loop, in C code holding the GIL, and an asyncio task awaiting an event that is never set; Gunicorn's WORKER
 * TIMEOUT and Uvicorn's health-check kill. Each stack must name the handler's function and line.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import { isAlive } from '../../src/core/process/procfs';
import type { WorkerEvent } from '../../src/core/supervisor';
import { testPython } from '../support/paths';
import { pidsIn, run } from './cliSupport';
import { hanging, lineOf, workerServing } from './insightSupport';
import { createServer, eventually, freePort, linesOf, stopAndCheck, type TestServer } from './support';

const SYNC: Partial<ServerDefinition> = { app: 'insight_wsgi:app', workerClass: 'sync', workers: 2 };
const UVICORN: Partial<ServerDefinition> = { server: 'uvicorn', app: 'insight_asgi:app', workers: 2 };

/** The fixture's lines each stack must name. */
const SLEEP_LINE = lineOf('insight_asgi.py', 'time.sleep(duration)');
const SPIN_LINES = [lineOf('insight_asgi.py', 'while time.monotonic() < deadline'), lineOf('insight_asgi.py', 'count += 1')];
const WAIT_LINE = lineOf('insight_asgi.py', 'await NEVER.wait()');
const BACKTRACK_LINE = lineOf('insight_asgi.py', 'return re.match');

const frame = (line: number, fn: string) => new RegExp(`^\\s+File ".*insight_asgi\\.py", line ${line} in ${fn}$`);

/** The worker's lines after the last marker that starts with `marker`. */
function linesAfter(server: TestServer, slot: number, marker: string): string[] {
  const lines = linesOf(server, slot);
  const at = lines.map((line) => line.startsWith(marker)).lastIndexOf(true);
  return at < 0 ? [] : lines.slice(at + 1);
}

async function stuckWorker(server: TestServer, pathname: string): Promise<{ slot: number; abort(): void }> {
  const request = hanging(server.port, pathname);
  const route = pathname.split('?')[0];
  let slot = 0;
  await eventually(`a worker serving ${route}`, () => (slot = workerServing(server.supervisor.model().workers, route)?.slot ?? 0) > 0);
  await new Promise((resolve) => setTimeout(resolve, 1700)); // well inside the handler (/backtrack sleeps 1.5 s first)
  return { slot, abort: () => request.abort() };
}

async function showStacks(server: TestServer, pathname: string, expected: RegExp[], via: 'agent' | 'signal'): Promise<number | undefined> {
  const stuck = await stuckWorker(server, pathname);
  try {
    const result = await server.supervisor.showStacks(stuck.slot);
    assert.strictEqual(result.via, via);
    for (const pattern of expected) {
      await eventually(`the stack line ${pattern}`, () => linesAfter(server, stuck.slot, '── stacks of worker').some((line) => pattern.test(line)), 10000);
    }
    return result.tasks;
  } finally {
    stuck.abort();
  }
}

async function withServer(definition: Partial<ServerDefinition>, body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await createServer({ gracefulTimeout: 1, ...definition });
  try {
    await server.supervisor.start();
    await body(server);
  } finally {
    await stopAndCheck(server);
  }
}

describe('Show Stack', { timeout: 240000 }, () => {
  it('a worker in time.sleep: every thread, the handler\'s frame by the agent (gunicorn sync)', () => withServer(SYNC, async (server) => {
    await showStacks(server, '/block?s=30', [frame(SLEEP_LINE, 'blocking_sleep'), /^Requests in flight, oldest first:$/, /^\s+GET \/block \(\d+\.\d s\)$/], 'agent');
  }));

  it('a worker in a tight Python loop (gunicorn sync)', () => withServer(SYNC, async (server) => {
    const pattern = new RegExp(`^\\s+File ".*insight_asgi\\.py", line (${SPIN_LINES.join('|')}) in spin$`);
    await showStacks(server, '/spin?s=30', [pattern], 'agent');
  }));

  it('a worker holding the GIL in C code (a catastrophic regex): the stack signal, faulthandler in a signal handler', () => withServer(SYNC, async (server) => {
    await showStacks(server, '/backtrack?n=30&after=1.5', [frame(BACKTRACK_LINE, 'backtrack')], 'signal');
  }));

  it('an asyncio worker: the pending task awaiting an event that is never set (uvicorn --workers)', () => withServer(UVICORN, async (server) => {
    const tasks = await showStacks(server, '/wait', [frame(WAIT_LINE, 'wait_forever'), /^asyncio: \d+ pending tasks? \(most recent call first\):$/], 'agent');
    assert.ok((tasks ?? 0) >= 1, `${tasks} tasks`);
  }));

  it('the CLI: {"cmd":"stacks","slot":N} writes them as that slot\'s log lines; stats carry the requests in flight', async () => {
    const port = await freePort();
    const r = run(['run', '--app', 'insight_wsgi:app', '--worker-class', 'sync', '--workers', '1', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--graceful-timeout', '1', '--json']);
    await r.next((e) => e.event === 'started', 'started');
    const request = hanging(port, '/block?s=30');
    try {
      const stats = await r.any((e) => e.event === 'stats' && JSON.stringify(e).includes('"path":"/block"'), 'stats with the request in flight');
      const worker = (stats.workers as Array<{ requests: { inFlight: number; inFlightRequests: Array<{ method: string; path: string; ageSeconds: number }> } }>)[0];
      assert.strictEqual(worker.requests.inFlight, 1);
      assert.deepStrictEqual(worker.requests.inFlightRequests.map((q) => `${q.method} ${q.path}`), ['GET /block']);
      assert.ok(worker.requests.inFlightRequests[0].ageSeconds >= 0);
      r.child.stdin!.write('{"cmd":"stacks","slot":1}\n');
      const result = await r.next((e) => e.event === 'result' && e.cmd === 'stacks', 'the stacks result');
      assert.strictEqual(result.ok, true, String(result.error));
      await r.any((e) => e.event === 'log' && e.slot === 1 && frame(SLEEP_LINE, 'blocking_sleep').test(String(e.line)), 'the handler\'s frame as a log line of slot 1');
    } finally {
      request.abort();
      r.child.stdin!.end();
    }
    assert.strictEqual(await r.exit, 0);
    assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), [], 'no process of the server survives');
  });
});

describe('why a worker was killed', { timeout: 240000 }, () => {
  async function killedWorker(server: TestServer, pathname: string): Promise<{ exit: WorkerEvent; lines: string[] }> {
    const exits: WorkerEvent[] = [];
    server.supervisor.onWorker.on((event) => event.type === 'exit' && exits.push(event));
    const stuck = await stuckWorker(server, pathname);
    try {
      await eventually('the stuck worker killed', () => exits.some((e) => e.worker.slot === stuck.slot), 60000);
    } finally {
      stuck.abort();
    }
    const exit = exits.find((e) => e.worker.slot === stuck.slot)!;
    await new Promise((resolve) => setTimeout(resolve, 500)); // the master's exact report, and the last output
    return { exit, lines: linesOf(server, stuck.slot) };
  }

  it('Gunicorn --timeout 2, a request that sleeps 10 s: the stack naming the sleeping function, WORKER TIMEOUT with the request', () => withServer({ ...SYNC, timeout: 2 }, async (server) => {
    const { exit, lines } = await killedWorker(server, '/block?s=10');
    const marker = lines.findIndex((line) => /^── worker \d+ \(pid \d+\): Gunicorn's WORKER TIMEOUT \(--timeout 2\) on GET \/block, \d+\.\d s; SIGABRT, its stack follows$/.test(line));
    assert.ok(marker >= 0, `the timeout marker in: ${lines.join('\n')}`);
    assert.ok(lines.slice(marker).some((line) => frame(SLEEP_LINE, 'blocking_sleep').test(line)), `the stack after it: ${lines.slice(marker).join('\n')}`);
    const row = server.supervisor.model().workers.find((w) => w.slot === exit.worker.slot)!;
    assert.match(row.lastExit!.text, /^WORKER TIMEOUT \(GET \/block, [2-9]\.\d s; (exited with code \d+|killed by SIGABRT|killed by SIGKILL)\)$/);
    assert.strictEqual(row.lastExit!.request?.startsWith('GET /block, '), true);
  }));

  it('Uvicorn\'s health check kills a worker holding the GIL: the stack first, HEALTH CHECK FAILED with the request', () => withServer(UVICORN, async (server) => {
    const { exit, lines } = await killedWorker(server, '/backtrack?n=29&after=1.5');
    assert.ok(lines.some((line) => frame(BACKTRACK_LINE, 'backtrack').test(line)), `the stack: ${lines.join('\n')}`);
    assert.match(exit.worker.lastExit!.text, /^HEALTH CHECK FAILED \(GET \/backtrack, \d+\.\d s; killed by SIGKILL\)$/);
  }));
});
