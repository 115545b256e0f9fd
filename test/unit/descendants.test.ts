import * as assert from 'node:assert';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DescendantTracker, descendantsOf, FULL_WALK_INTERVAL_MS, signalIfSame } from '../../src/core/process/descendants';
import { childrenOf, commandLine, identityOf, isAlive, type ProcessIdentity, readProcStat } from '../../src/core/process/procfs';

const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
});

async function sleeper(detached = false): Promise<ChildProcess> {
  const child = spawn('sleep', ['60'], { detached, stdio: 'ignore' });
  started.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

const me = (): ProcessIdentity => identityOf(process.pid)!;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-descendants-'));
const stray: number[] = [];
after(() => {
  for (const pid of stray) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A shell that starts `sleep 60` once a line is written to the FIFO it returns (`go`), and then waits. */
function fifoShell(name: string): { fifo: string; script: string; go: () => void } {
  const fifo = path.join(scratch, name);
  execFileSync('mkfifo', [fifo]);
  return { fifo, script: `read line < '${fifo}'; sleep 60 & wait`, go: () => fs.writeFileSync(fifo, 'go\n') };
}

async function eventuallyChildOf(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const [child] = childrenOf(pid);
    if (child !== undefined) return child;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${pid} started no child`);
}

describe('descendants: pid and start time name one process', () => {
  it('a remembered pid that another process has taken since (another start time) is never signalled', async () => {
    const stranger = await sleeper();
    const real = identityOf(stranger.pid!)!;
    const reused = { pid: real.pid, startTicks: real.startTicks - 1 };
    assert.strictEqual(signalIfSame(reused, 'SIGKILL'), false);
    const tracker = new DescendantTracker({ pid: 999999999, startTicks: 0 });
    tracker.remember({ ...reused, pgrp: readProcStat(real.pid)!.pgrp });
    assert.deepStrictEqual(tracker.alive(), [], 'not alive as the process remembered');
    assert.strictEqual(tracker.signalOutside(-1, 'SIGKILL'), 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(isAlive(stranger.pid!), 'the process that has the pid now is untouched');
    assert.strictEqual(signalIfSame(real, 'SIGKILL'), true, 'the process itself is');
  });

  it('finds children in a session of their own, and never a process started before the root', async () => {
    const inGroup = await sleeper();
    const inSession = await sleeper(true);
    const found = descendantsOf(me()).map((d) => d.pid);
    assert.ok(found.includes(inGroup.pid!) && found.includes(inSession.pid!), `both found in ${found}`);
    assert.notStrictEqual(readProcStat(inSession.pid!)!.pgrp, readProcStat(process.pid)!.pgrp);
    // This process named with a later start time is another process, one that cannot be their parent.
    const later = { pid: process.pid, startTicks: me().startTicks + 1 };
    assert.deepStrictEqual(descendantsOf(later), [], 'a root that is not the process with that pid has no descendants');
  });

  it('remembers what it saw, forgets what exited, signals only outside the given group', async () => {
    const tracker = new DescendantTracker(me());
    const inGroup = await sleeper();
    const inSession = await sleeper(true);
    const fresh = tracker.refresh().map((d) => d.pid);
    assert.ok(fresh.includes(inGroup.pid!) && fresh.includes(inSession.pid!));
    assert.deepStrictEqual(tracker.refresh(), [], 'nothing new on the next walk');
    assert.strictEqual(tracker.signalOutside(readProcStat(process.pid)!.pgrp, 'SIGKILL', tracker.alive().filter((d) => d.pid === inGroup.pid || d.pid === inSession.pid)), 1);
    await new Promise((resolve) => inSession.once('exit', resolve));
    assert.ok(isAlive(inGroup.pid!), 'the one in the group is left to the group\'s signal');
    tracker.refresh();
    assert.ok(!tracker.alive().some((d) => d.pid === inSession.pid), 'the exited one is forgotten');
  });

  it('the tick reads the root\'s children: a new one is walked down at once, what a known one starts waits for the next full walk', async () => {
    const t0 = Date.now();
    const tracker = new DescendantTracker(me());
    const shell = fifoShell('tick');
    const parent = spawn('sh', ['-c', shell.script], { stdio: 'ignore' });
    started.push(parent);
    await new Promise((resolve) => parent.once('spawn', resolve));
    assert.ok(tracker.tick(t0).some((d) => d.pid === parent.pid), 'the first tick walks the whole tree');
    shell.go();
    const grandchild = await eventuallyChildOf(parent.pid!);
    stray.push(grandchild);
    assert.deepStrictEqual(tracker.tick(t0 + 1000), [], 'a known child\'s children are not read on a tick');
    const late = tracker.tick(t0 + FULL_WALK_INTERVAL_MS).map((d) => d.pid);
    assert.ok(late.includes(grandchild), `the periodic full walk finds it (${late})`);

    const nested = spawn('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' });
    started.push(nested);
    const nestedChild = await eventuallyChildOf(nested.pid!);
    stray.push(nestedChild);
    const fresh = tracker.tick(t0 + FULL_WALK_INTERVAL_MS + 1000).map((d) => d.pid);
    assert.ok(fresh.includes(nested.pid!) && fresh.includes(nestedChild), `a new child and what it started, at once (${fresh})`);
  });

  it('once the root is gone, a full walk goes down from the processes it remembered', async () => {
    const shell = fifoShell('orphan');
    // The root starts the shell in the background and sleeps; it is then SIGKILLed, and the shell starts its sleep.
    const root = spawn('sh', ['-c', `sh -c "${shell.script.replace(/"/g, '\\"')}" & exec sleep 60`], { stdio: 'ignore' });
    started.push(root);
    await new Promise((resolve) => root.once('spawn', resolve));
    const tracker = new DescendantTracker(identityOf(root.pid!)!);
    let orphan: number | undefined;
    for (let i = 0; i < 200 && orphan === undefined; i++) {
      orphan = tracker.refresh().find((d) => readProcStat(d.pid)?.ppid === root.pid && commandLine(d.pid).startsWith('sh '))?.pid;
      if (orphan === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(orphan !== undefined, 'the shell was found below the root');
    stray.push(orphan);
    root.kill('SIGKILL');
    await new Promise((resolve) => root.once('exit', resolve));
    shell.go();
    const grandchild = await eventuallyChildOf(orphan);
    stray.push(grandchild);
    const found = tracker.refresh().map((d) => d.pid);
    assert.ok(found.includes(grandchild), `the sleep the orphaned shell started is found (${found})`);
    assert.ok(tracker.alive().some((d) => d.pid === grandchild), 'and remembered, so that the stop ends it');
  });

  it('the tick keeps the root\'s stat and its threads\' children files open, and closes them on close()', async () => {
    const root = spawn('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' });
    started.push(root);
    const child = await eventuallyChildOf(root.pid!);
    stray.push(child);
    const tracker = new DescendantTracker(identityOf(root.pid!)!);
    const t0 = Date.now();
    tracker.tick(t0); // the first tick walks the whole tree
    const openFiles = () => fs.readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(`/proc/${root.pid}/`) ? [target] : [];
      } catch {
        return [];
      }
    });
    assert.deepStrictEqual(tracker.tick(t0 + 1000), [], 'nothing new');
    assert.deepStrictEqual(openFiles().sort(), [`/proc/${root.pid}/stat`, `/proc/${root.pid}/task/${root.pid}/children`], 'its stat and its one thread\'s children file');
    tracker.close();
    assert.deepStrictEqual(openFiles(), [], 'closed');
  });
});
