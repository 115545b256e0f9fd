/**
 * Nothing escapes: the background processes a worker starts (in its process group, in a session of their own, after
 * their parent exited) end with the server, on a stop and when the supervising process is SIGKILLed.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ServerKind } from '../../src/core/definition';
import { commandLine, isAlive, readProcStat } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { run } from './cliSupport';
import { createServer, eventually, freePort, get, stopAndCheck } from './support';

const kinds: Array<[string, ServerKind]> = [['gunicorn', 'gunicorn'], ['uvicorn --workers', 'uvicorn']];

interface Spawned {
  worker: number;
  child: number;
}

async function spawnSleep(port: number, query: string): Promise<Spawned> {
  const { status, body } = await get(port, `/spawn?${query}`);
  assert.strictEqual(status, 200);
  return { worker: body.pid as number, child: body.child as number };
}

/** Spawns from `worker` (other workers may answer first: what they start is returned too). */
async function spawnFrom(port: number, worker: number, query: string): Promise<Spawned[]> {
  const spawned: Spawned[] = [];
  for (let attempt = 0; attempt < 40; attempt++) {
    const one = await spawnSleep(port, query);
    spawned.push(one);
    if (one.worker === worker) return spawned;
  }
  throw new Error(`worker ${worker} never answered`);
}

function describeChildren(children: number[]): string {
  return children.map((pid) => `${pid} (ppid ${readProcStat(pid)?.ppid}, pgrp ${readProcStat(pid)?.pgrp}): ${commandLine(pid)}`).join('; ');
}

/**
 * A worker starts `sleep` in its group and in a session of its own, then is SIGKILLed (its children lose their
 * parent); its replacement starts another in a session of its own, and one through a process that exits at once.
 * `kill(slot)` kills a worker and settles when its replacement is ready.
 */
async function startBackgroundProcesses(port: number, workerPids: () => Array<{ slot: number; pid: number }>, kill: (slot: number) => Promise<void>): Promise<number[]> {
  const first = await spawnSleep(port, 'session=0');
  const spawned = [first, ...await spawnFrom(port, first.worker, 'session=1')];
  const slot = workerPids().find((w) => w.pid === first.worker)!.slot;
  await kill(slot);
  const replacement = workerPids().find((w) => w.slot === slot)!.pid;
  assert.notStrictEqual(replacement, first.worker, 'the worker was replaced');
  spawned.push(...await spawnFrom(port, replacement, 'session=1'));
  spawned.push(await spawnSleep(port, 'session=1&orphan=1'));
  const children = spawned.map((s) => s.child);
  assert.ok(children.every(isAlive), 'every sleep runs');
  const own = readProcStat(children[0])!.pgrp;
  assert.ok(children.slice(1).some((pid) => readProcStat(pid)!.pgrp !== own), 'some run outside the server\'s process group');
  return children;
}

for (const [title, server] of kinds) {
  describe(`background processes of ${title} workers`, { timeout: 120000 }, () => {
    it('all end with Stop: in the worker\'s group, in sessions of their own, orphaned by a killed worker', async () => {
      const test = await createServer({ server, app: 'escapes_app:app', workers: 2 });
      await test.supervisor.start();
      const master = test.supervisor.pid!;
      const children = await startBackgroundProcesses(
        test.port,
        () => test.supervisor.model().workers.map((w) => ({ slot: w.slot, pid: w.pid })),
        (slot) => test.supervisor.killWorker(slot),
      );
      const orphans = children.filter((pid) => readProcStat(pid)?.ppid === master);
      assert.ok(orphans.length >= 2, `the master adopted the orphans (subreaper): ${describeChildren(children)}`);
      await stopAndCheck(test);
      const left = children.filter(isAlive);
      assert.deepStrictEqual(left, [], `every background process ended: ${describeChildren(left)}`);
    });

    it('all end within 2 s when the supervising process is SIGKILLed (the agent\'s watchdog)', async () => {
      const port = await freePort();
      const cli = run(['run', '--server', server, '--app', 'escapes_app:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--json']);
      const started = await cli.next((e) => e.event === 'started', 'the server to start');
      let workers = started.workers as Array<{ slot: number; pid: number }>;
      const children = await startBackgroundProcesses(port, () => workers, async (slot) => {
        cli.child.stdin!.write(`${JSON.stringify({ cmd: 'kill', slot })}\n`);
        const result = await cli.next((e) => e.event === 'result' && e.cmd === 'kill', 'the kill to settle');
        assert.strictEqual(result.ok, true, String(result.error));
        workers = result.workers as Array<{ slot: number; pid: number }>;
      });
      const serverPids = [started.masterPid as number, ...workers.map((w) => w.pid)];
      cli.child.kill('SIGKILL');
      const killedAt = Date.now();
      const all = [...serverPids, ...children];
      await eventually(`every process to be gone (left: ${describeChildren(all.filter(isAlive))})`, () => !all.some(isAlive), 2000);
      assert.ok(Date.now() - killedAt <= 2100, `gone within 2 s (${Date.now() - killedAt} ms)`);
    });
  });
}

describe('background processes without the agent', { timeout: 120000 }, () => {
  it('end with Stop too (the supervisor walks the master\'s tree)', async () => {
    const test = await createServer({ app: 'escapes_app:app', workers: 1 }, {});
    await test.supervisor.start();
    await eventually('the worker to be known', () => test.supervisor.model().workers.some((w) => w.state === 'ready'));
    const children = [(await spawnSleep(test.port, 'session=1')).child, (await spawnSleep(test.port, 'session=1&orphan=1')).child];
    assert.ok(children.every(isAlive));
    await stopAndCheck(test);
    assert.deepStrictEqual(children.filter(isAlive), [], 'every background process ended');
  });
});
