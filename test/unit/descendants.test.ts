import * as assert from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { DescendantTracker, descendantsOf, signalIfSame } from '../../src/core/process/descendants';
import { identityOf, isAlive, type ProcessIdentity, readProcStat } from '../../src/core/process/procfs';

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
});
