/**
 * pdb sessions through the core's API (Supervisor.onPdb), as the views drive them: completion, Ctrl-C at the prompt
 * and during a command, `c` with a breakpoint set (the same session stops again), a detach (a closed terminal), EOF,
 * a worker that dies in pdb, the model's `pdb` mark, breakpoint() going to debugpy while a client is attached, and
 * who may open a pdb connection at all (the token, a process the server knows).
 */
import * as assert from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import type { PdbSession } from '../../src/core/supervisor';
import { DapClient, debugSocketOf, threadOf } from './dapClient';
import { isAlive } from '../../src/core/process/procfs';
import { lineOf, request, settled, sleep } from './pdbSupport';
import { createServer, eventually, stopAndCheck, type TestServer } from './support';

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.supervisor.stop();
});

/** What a view of one session sees: pdb's output so far, and a way to wait for its next prompt. */
class SessionView {
  output = '';
  private prompts = 0;
  private waiting: Array<() => void> = [];

  constructor(readonly session: PdbSession) {
    session.onOutput.on((text) => (this.output += text));
    session.onPrompt.on(() => {
      this.prompts++;
      for (const wake of this.waiting.splice(0)) wake();
    });
  }

  /** Resolves at the prompt after the `seen`-th one. */
  async prompt(seen: number, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.prompts <= seen) {
      if (Date.now() > deadline) throw new Error(`no pdb prompt within ${timeoutMs} ms; output: ${this.output}`);
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** Sends a line; pdb's output until its next prompt (the prompt left out). */
  async command(line: string): Promise<string> {
    const [seen, from] = [this.prompts, this.output.length];
    this.session.input(`${line}\n`);
    await this.prompt(seen);
    return this.output.slice(from).replace(/\(Pdb\) $/, '');
  }
}

async function startWith(workers: number): Promise<{ server: TestServer; views: SessionView[] }> {
  const server = await createServer({ app: 'pdb_asgi:app', workers, timeout: 2 });
  servers.push(server);
  const views: SessionView[] = [];
  server.supervisor.onPdb.on((session) => views.push(new SessionView(session)));
  await server.supervisor.start();
  return { server, views };
}

async function viewAt(views: SessionView[], index: number): Promise<SessionView> {
  await eventually(`pdb session ${index + 1}`, () => views.length > index, 30000);
  await views[index].prompt(0);
  return views[index];
}

function ended(session: PdbSession): Promise<{ reason: string; text: string }> {
  return session.end ? Promise.resolve(session.end) : new Promise((resolve) => session.onEnd.on(resolve));
}

const pausedLine = lineOf('pdb_asgi.py', '    y = x.upper()');

describe('a pdb session driven through the core (gunicorn + UvicornWorker)', { timeout: 120000 }, () => {
  it('completes, takes Ctrl-C at the prompt and during a command, marks the model, and a detach lets the worker go', async () => {
    const { server, views } = await startWith(2);
    const pausing = request(server.port, '/pause?v=5');
    const view = await viewAt(views, 0);
    const { session } = view;
    const row = () => server.supervisor.model().workers.find((w) => w.pid === session.pid);
    assert.deepStrictEqual([row()?.pdb?.line, row()?.pdb?.function], [pausedLine, 'app'], 'the model says where it waits');
    assert.strictEqual(row()?.slot, session.slot);

    assert.deepStrictEqual(await session.complete('p x'), { matches: ['x'], begin: 2 });
    const commands = await session.complete('con');
    assert.ok(commands.matches.includes('continue') && commands.begin === 0, JSON.stringify(commands));

    const seen = view.output.length;
    session.interrupt();
    await eventually('--KeyboardInterrupt-- and a new prompt', () => /--KeyboardInterrupt--\n\(Pdb\) $/.test(view.output.slice(seen)));
    const sleeping = view.command('!import time; time.sleep(60)');
    await sleep(500);
    const before = Date.now();
    session.interrupt();
    assert.match(await sleeping, /KeyboardInterrupt/, 'Ctrl-C stops a running command');
    assert.ok(Date.now() - before < 10000, 'at once');
    assert.strictEqual((await view.command('p x')).trim(), "'value-5'", 'pdb still answers');

    session.detach('its pdb terminal was closed');
    assert.deepStrictEqual(await ended(session), { reason: 'detached', text: 'its pdb terminal was closed' });
    assert.deepStrictEqual((await pausing).body, { pid: session.pid, y: 'VALUE-5' }, 'the worker continued');
    await eventually('the model to drop the pdb mark', () => row()?.pdb === undefined);
    await stopAndCheck(server);
  });

  it('`c` with a breakpoint set keeps the session: the next request stops in it again; `cl` asks, then `c` ends it', async () => {
    const { server, views } = await startWith(1);
    const first = request(server.port, '/pause?v=1');
    const view = await viewAt(views, 0);
    const { session } = view;
    const statusLine = lineOf('pdb_asgi.py', 'status, body = 200, {"pid": pid}');
    assert.match(await view.command(`b ${statusLine}`), /Breakpoint 1 at .*pdb_asgi\.py:\d+/);
    const running = new Promise<void>((resolve) => session.onRunning.on(() => resolve()));
    session.input('c\n');
    await running;
    assert.strictEqual(session.state, 'running');
    assert.deepStrictEqual((await first).body, { pid: session.pid, y: 'VALUE-1' });
    await eventually('the model to drop the pdb mark while it runs', () => server.supervisor.model().workers[0].pdb === undefined);

    const stops: boolean[] = [];
    session.onStop.on(({ entered }) => stops.push(entered));
    const second = request(server.port, '/pause?v=2');
    await eventually('the same session to stop at the breakpoint', () => stops.length > 0, 30000);
    assert.deepStrictEqual([stops[0], session.stop?.line, views.length], [true, statusLine, 1], 'the same session, entered again');
    assert.strictEqual(await view.command('cl'), 'Clear all breaks? ', 'pdb asks through the session (input())');
    assert.match(await view.command('y'), /Deleted breakpoint 1/);
    session.input('c\n');
    assert.strictEqual((await ended(session)).reason, 'continued', 'no breakpoint left: `c` ends it');
    // Then the handler's own breakpoint() opens a new session.
    const next = await viewAt(views, 1);
    assert.strictEqual(next.session.stop?.line, pausedLine);
    next.session.input('c\n');
    assert.deepStrictEqual((await second).body, { pid: session.pid, y: 'VALUE-2' });
    await stopAndCheck(server);
  });

  it('EOF (Ctrl-D) quits pdb; a worker killed in pdb ends its session with the reason', async () => {
    const { server, views } = await startWith(2);
    const quitting = request(server.port, '/pause?v=3');
    const view = await viewAt(views, 0);
    view.session.eof();
    assert.strictEqual((await ended(view.session)).reason, 'quit');
    // As in a terminal, quitting pdb aborts the program being debugged: the handler raises BdbQuit.
    assert.match(String((await quitting).error), /Internal Server Error/, 'the request was aborted');

    const dying = request(server.port, '/pause?v=4', 30000);
    const victim = await viewAt(views, 1);
    const pid = victim.session.pid;
    process.kill(pid, 'SIGKILL');
    assert.deepStrictEqual(await ended(victim.session), { reason: 'gone', text: 'killed by SIGKILL' });
    assert.ok((await dying).error, 'the request died with its worker');
    await eventually('a replacement without the pdb mark', () => {
      const worker = server.supervisor.model().workers.find((w) => w.slot === victim.session.slot);
      return worker !== undefined && worker.pid !== pid && worker.state === 'ready' && worker.pdb === undefined;
    }, 30000);
    await stopAndCheck(server);
  });
});

describe('breakpoint() with a debugpy client attached (gunicorn + UvicornWorker)', { timeout: 90000 }, () => {
  it('goes to debugpy; once the client left, it opens pdb again', async () => {
    const { server, views } = await startWith(1);
    const worker = server.supervisor.model().workers[0];
    const socketPath = debugSocketOf(await server.supervisor.requestWorker(1, { t: 'debug' }, 60000), worker.pid);
    const client = await DapClient.connect(socketPath);
    await client.attach({});
    const stopped = client.waitForEvent('stopped', () => true, 30000);
    const pausing = request(server.port, '/pause?v=6');
    const event = await stopped;
    const frame = await client.topFrame(threadOf(event));
    assert.deepStrictEqual([frame.source?.path?.endsWith('pdb_asgi.py'), frame.line], [true, pausedLine], 'debugpy stopped after breakpoint()');
    assert.strictEqual(views.length, 0, 'no pdb session');
    assert.ok(!(await settled(pausing)));
    await client.request('continue', { threadId: threadOf(event) });
    assert.deepStrictEqual((await pausing).body, { pid: worker.pid, y: 'VALUE-6' });
    await client.disconnect();
    client.close();
    await eventually('the client to be gone', () => client.closed, 10000).catch(() => undefined);

    const again = request(server.port, '/pause?v=8');
    const view = await viewAt(views, 0);
    assert.strictEqual(view.session.pid, worker.pid);
    view.session.input('c\n');
    assert.deepStrictEqual((await again).body, { pid: worker.pid, y: 'VALUE-8' });
    await stopAndCheck(server);
  });
});

describe('the pdb channel admits only a process of the server, with the token', { timeout: 60000 }, () => {
  it('a wrong token, a pid outside the server, a worker claiming the master\'s role, or another process claiming a worker\'s pid: closed, no session', async () => {
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    after(() => bystander.kill('SIGKILL'));
    const { server, views } = await startWith(2);
    const masterPid = server.supervisor.pid!;
    const environ = new Map(fs.readFileSync(`/proc/${masterPid}/environ`, 'utf8').split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const [socketPath, token] = [environ.get('SERVER_WORKERS_SOCKET')!, environ.get('SERVER_WORKERS_TOKEN')!];
    const worker = server.supervisor.model().workers[0];
    const hello = (claim: Record<string, unknown>) => new Promise<boolean>((resolve) => {
      const socket = net.connect(socketPath, () => socket.write(`${JSON.stringify({ token, channel: 'pdb', role: 'worker', ppid: masterPid, ...claim })}\n`));
      socket.on('error', () => undefined);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 2000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    const refused = await Promise.all([
      hello({ token: 'f'.repeat(32), pid: worker.pid }),
      hello({ pid: bystander.pid }),
      hello({ role: 'master', pid: worker.pid }),
    ]);
    assert.deepStrictEqual(refused, [true, true, true], 'each connection was closed');
    assert.strictEqual(views.length, 0, 'no session opened');
    // This process is not that worker: its peer credentials (SO_PEERCRED) say so.
    assert.strictEqual(await hello({ pid: worker.pid }), true, 'a worker\'s pid claimed by another process is closed too');
    assert.strictEqual(views.length, 0, 'still no session');
    const pausing = request(server.port, '/pause?v=9');
    await eventually('the session of a real breakpoint()', () => views.length === 1, 30000);
    await views[0].prompt(0);
    views[0].session.input('c\n');
    assert.strictEqual(((await pausing).body as { y?: string }).y, 'VALUE-9');
    await stopAndCheck(server);
    assert.ok(isAlive(bystander.pid!), 'the process a hello named was not touched');
  });
});
