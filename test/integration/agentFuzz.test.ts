/**
 * Property-based: random bytes and malformed frames on the agent's socket, with and without the run's token, are
 * dropped, and the running server (a real Gunicorn) goes on as if nothing happened: the same workers, nothing in
 * their streams, no file descriptor left open. Settings: test/support/fuzz.ts.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import type { WorkerEvent } from '../../src/core/supervisor';
import { fuzzParameters } from '../support/fuzz';
import { createServer, eventually, get, stopAndCheck } from './support';

/** Every frame carries this, so that a byte of it reaching a worker's stream would show. */
const MARK = 'FUZZ-MARK';

function environOf(pid: number): Map<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv): [string, string] => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
  return new Map(entries);
}

/**
 * The supervisor's open descriptors but the /proc files its stats tick keeps open between ticks (a stat file a process,
 * a children file a thread of the master: opened as it meets them, so their number moves with the tick, not the fuzz).
 */
const openFds = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return !fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/proc/');
  } catch {
    return false; // the directory's own descriptor, closed by now
  }
}).length;

/** Sends `bytes` in `pieces` writes, half-closes, and resolves when the supervisor has closed the connection. */
function sendFrame(socketPath: string, bytes: Buffer, pieces: number): Promise<'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, 8000);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.on('connect', () => {
      const size = Math.max(1, Math.ceil(bytes.length / pieces));
      for (let at = 0; at < bytes.length; at += size) socket.write(bytes.subarray(at, at + size));
      socket.end();
    });
  });
}

describe('the agent socket under random input', { timeout: Math.max(600000, fuzzParameters(100).numRuns * 200) }, () => {
  it('drops random bytes and malformed frames, with and without the token; the server is unaffected', async (t) => {
    const server = await createServer({ app: 'escapes_app:app', workers: 2 });
    await server.supervisor.start();
    const master = server.supervisor.pid!;
    const environ = environOf(master);
    const socketPath = environ.get('SERVER_WORKERS_SOCKET')!;
    const token = environ.get('SERVER_WORKERS_TOKEN')!;
    assert.ok(socketPath && token, 'the master has the agent\'s variables');
    const before = server.supervisor.model();
    const workerPids = before.workers.map((w) => w.pid);
    const workerEvents: WorkerEvent[] = [];
    server.supervisor.onWorker.on((event) => workerEvents.push(event));
    const fdsBefore = openFds();

    // pids a hello may claim: none of them the server's (a hello for the server's own pids is the protocol itself)
    const strangerPid = fc.oneof(fc.constantFrom(1, process.pid, 0, -1, 2 ** 31, 4194304), fc.integer({ min: 2, max: 4194304 }).filter((p) => p !== master && !workerPids.includes(p)));
    const field = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.nat(), { maxLength: 2 }));
    const hello = fc.record({
      token: fc.oneof({ weight: 3, arbitrary: fc.constant(token) }, { weight: 1, arbitrary: fc.constantFrom('', 'wrong', token.slice(1), `${token}0`, token.toUpperCase()) }, { weight: 1, arbitrary: field }),
      channel: fc.oneof(fc.constantFrom('data', 'control'), field),
      role: fc.oneof(fc.constantFrom('worker', 'master'), field),
      pid: fc.oneof({ weight: 4, arbitrary: strangerPid }, { weight: 1, arbitrary: field }),
      ppid: fc.oneof(fc.constant(master), strangerPid, field),
    }, { requiredKeys: [] });
    const message = fc.oneof(
      fc.constantFrom('{"t":"ready"}', `{"t":"exit","pid":${workerPids[0]},"code":0,"signal":null}`, '{"id":1,"t":"pong"}', '{"t":"boot"}', 'null', '[]', '{', ''),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    const frame = fc.oneof(
      // random bytes, with or without a newline in them
      fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.concat([Buffer.from(bytes), Buffer.from(`${MARK}\n`)])),
      // a hello-shaped line (or not quite one), then messages and output
      fc.tuple(hello, fc.array(message, { maxLength: 5 }), fc.constantFrom('', '\n', '\r\n', ' ')).map(([h, messages, end]) => Buffer.from(`${JSON.stringify(h)}${end}\n${messages.join('\n')}\n${MARK}\n`)),
      // JSON that is not an object, or not JSON
      fc.oneof(fc.jsonValue(), fc.string({ maxLength: 80 })).map((v) => Buffer.from(`${typeof v === 'string' ? v : JSON.stringify(v)}\n${MARK}\n`)),
      // a hello line longer than the supervisor reads (4 KiB) before its newline
      fc.integer({ min: 4097, max: 20000 }).map((n) => Buffer.from(`{"token":"${token}","pad":"${'x'.repeat(n)}"}\n${MARK}\n`)),
    );
    const parameters = fuzzParameters<[Array<[Buffer, number]>]>(100);
    let connections = 0;
    const details = await fc.check(fc.asyncProperty(fc.array(fc.tuple(frame, fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 4 }), async (frames) => {
      connections += frames.length;
      const outcomes = await Promise.all(frames.map(([bytes, pieces]) => sendFrame(socketPath, bytes, pieces)));
      assert.deepStrictEqual(outcomes.filter((o) => o !== 'closed'), [], 'the supervisor closed every connection');
    }), parameters);
    t.diagnostic(`${details.numRuns} cases, ${connections} connections (seed ${parameters.seed})`);
    if (details.failed) assert.fail(fc.defaultReportMessage(details) ?? 'the property failed');

    const after = server.supervisor.model();
    assert.strictEqual(after.state, 'running');
    assert.deepStrictEqual(after.workers.map((w) => [w.slot, w.pid, w.state, w.restarts]), before.workers.map((w) => [w.slot, w.pid, w.state, w.restarts]), 'the same workers, ready, none restarted');
    assert.deepStrictEqual(workerEvents, [], 'no worker came, went or changed');
    assert.deepStrictEqual(server.output.filter((e) => e.lines.some((l) => l.includes(MARK))), [], 'no byte of a frame reached a stream');
    const { body } = await get(server.port, `/write?text=${encodeURIComponent('after the fuzz\n')}`);
    await eventually('a worker\'s line to arrive in its stream', () => server.output.some((e) => e.pid === body.pid && e.slot > 0 && e.lines.includes('after the fuzz')));
    await eventually(`the supervisor's file descriptors to be back to ${fdsBefore} (now ${openFds()})`, () => openFds() <= fdsBefore, 5000);
    await stopAndCheck(server);
  });
});
