/**
 * Who is a worker (issue 22, items 8 and 9), against real servers: a process the server started as one, decided in
 * the process the server forked; a daemon that a worker double-forks (adopted by the master, the stack of
 * `spawn_worker` still in it) is never a worker row, and `kill` on a slot never reaches it. A connection's pid is
 * the one its peer credentials (SO_PEERCRED) show, and a second claim never evicts a live connection.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentLink } from '../../src/core/agent/agentLink';
import { isAlive } from '../../src/core/process/procfs';
import { WorkerStreams } from '../../src/core/output/workerStreams';
import { testPython } from '../support/paths';
import { createServer, eventually, get, linesOf, stopAndCheck } from './support';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function agentVariables(pid: number): { socketPath: string; token: string } {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  const environ = new Map(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  return { socketPath: environ.get('SERVER_WORKERS_SOCKET')!, token: environ.get('SERVER_WORKERS_TOKEN')! };
}

/** A connection from this process that says `hello`; `closed` resolves true once the other end closes it. */
async function claim(socketPath: string, hello: Record<string, unknown>, after = ''): Promise<{ socket: net.Socket; closed: Promise<boolean> }> {
  const socket = net.connect(socketPath);
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.write(`${JSON.stringify(hello)}\n${after}`);
  return { socket, closed };
}

describe('a worker is a process the server started as one', { timeout: 180000 }, () => {
  it('gunicorn: daemons a worker double-forks get no slot, and kill on every slot leaves them alone', async () => {
    const server = await createServer({ app: 'daemon_wsgi:app', workerClass: 'sync', workers: 2 });
    let daemons: number[] = [];
    try {
      await server.supervisor.start();
      const { body } = await get(server.port, '/daemons?n=6', 30000);
      daemons = body.daemons as number[];
      assert.strictEqual(daemons.length, 6);
      assert.ok(daemons.every(isAlive), 'the daemons run');
      await sleep(2000); // a hello from a daemon would have been admitted by now
      const rows = () => [...server.supervisor.model().workers, ...server.supervisor.model().retiring];
      assert.deepStrictEqual(rows().filter((w) => daemons.includes(w.pid)).map((w) => `slot ${w.slot} ${w.state}`), [], 'no daemon is a worker row');
      assert.strictEqual(server.supervisor.model().workers.length, 2);

      for (const slot of server.supervisor.model().workers.map((w) => w.slot)) await server.supervisor.killWorker(slot);
      assert.ok(daemons.every(isAlive), 'kill on each slot killed a worker, never a daemon');
      assert.deepStrictEqual(rows().filter((w) => daemons.includes(w.pid)).map((w) => w.slot), [], 'still no daemon row');
      await eventually('two ready workers', () => server.supervisor.model().workers.filter((w) => w.state === 'ready').length === 2);
    } finally {
      await stopAndCheck(server);
    }
    // Not worker rows, yet the server's processes: the stop ends them as it ends every descendant.
    assert.deepStrictEqual(daemons.filter(isAlive), [], 'the daemons ended with the server');
  });
});

describe('a connection speaks for the process at its other end only', { timeout: 180000 }, () => {
  it('a token holder claiming a live worker\'s or the master\'s pid is refused (SO_PEERCRED): no eviction, no spoofed output', async () => {
    const server = await createServer({ app: 'insight_wsgi:app', workerClass: 'sync', workers: 2 });
    try {
      await server.supervisor.start();
      const master = server.supervisor.pid!;
      const { socketPath, token } = agentVariables(master);
      const worker = server.supervisor.model().workers[0];
      const claims = await Promise.all([
        claim(socketPath, { token, channel: 'control', role: 'worker', pid: worker.pid, ppid: master }),
        claim(socketPath, { token, channel: 'control', role: 'master', pid: master, ppid: process.pid }),
        claim(socketPath, { token, channel: 'data', role: 'worker', pid: worker.pid, ppid: master }, 'SPOOFED by another process\n'),
      ]);
      const closed = await Promise.all(claims.map((c) => c.closed));
      for (const { socket } of claims) socket.destroy();
      assert.deepStrictEqual(closed, [true, true, true], 'the supervisor closed the three claims');
      await sleep(500);
      assert.ok(!linesOf(server, worker.slot).some((line) => line.includes('SPOOFED')), 'no line of another process in the worker\'s stream');
      const stacks = await server.supervisor.showStacks(worker.slot);
      assert.strictEqual(stacks.via, 'agent', 'the worker\'s own control connection still answers');
      await server.supervisor.killWorker(worker.slot);
      assert.strictEqual(server.supervisor.model().workers.find((w) => w.slot === worker.slot)?.lastExit?.text, 'killed by SIGKILL', 'the master\'s exit report still arrives');
    } finally {
      await stopAndCheck(server);
    }
  });

  it('a second control connection of the same process never replaces the first (real sockets, this process as the peer)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-link-'));
    fs.chmodSync(dir, 0o700);
    const link = new AgentLink(new WorkerStreams());
    after(async () => {
      await link.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    link.onClaim.on((claim) => claim.hello.pid === process.pid && claim.vouch());
    link.onJoin.on((request) => request.hello.pid === process.pid && request.admit(1));
    const { SERVER_WORKERS_SOCKET: socketPath, SERVER_WORKERS_TOKEN: token } = await link.listen(dir, testPython);
    const hello = { token, channel: 'control', role: 'worker', pid: process.pid, ppid: process.ppid };
    const first = await claim(socketPath, hello);
    const pings: string[] = [];
    first.socket.on('data', (data) => {
      for (const line of String(data).split('\n').filter(Boolean)) {
        const message = JSON.parse(line) as { id: number; t: string };
        pings.push(message.t);
        first.socket.write(`${JSON.stringify({ id: message.id, t: 'pong', from: 'first' })}\n`);
      }
    });
    for (const deadline = Date.now() + 10000; pings.length === 0; await sleep(200)) {
      assert.ok(Date.now() < deadline, 'the first connection is admitted (its pid is checked first)');
      void link.request(process.pid, { t: 'ping' }, 1000)?.catch(() => undefined);
    }
    const second = await claim(socketPath, hello);
    assert.strictEqual(await second.closed, true, 'the second claim is closed');
    const reply = await link.request(process.pid, { t: 'ping' }, 5000);
    assert.strictEqual(reply?.from, 'first', 'requests still go to the first connection');
    first.socket.destroy();
  });
});
