/** CPU and memory from /proc with each process's stat file kept open: fresh figures each time, no file left open. */
import * as assert from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { UsageSampler } from '../../src/core/process/procfs';

const openStatFiles = (pid: number) => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${pid}/stat`;
  } catch {
    return false;
  }
}).length;

describe('UsageSampler', () => {
  it('reads a process\'s figures again through its open file, and closes it when the process is gone or forgotten', async () => {
    // A shell that spins for a while, then sleeps: its CPU time grows between two samples.
    const child = spawn('sh', ['-c', 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; exec sleep 30'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    // Right after its exec the process may not have run yet: no page of it is resident (its RSS reads 0).
    await new Promise((resolve) => setTimeout(resolve, 100));
    const pid = child.pid!;
    const sampler = new UsageSampler();
    const first = sampler.sample(pid, Date.now());
    assert.ok(first && first.rssBytes > 0, 'the first sample has its memory');
    assert.strictEqual(openStatFiles(pid), 1, 'its stat file stays open');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = sampler.sample(pid, Date.now());
    assert.ok(second && second.cpuPercent > 0, `the second read is fresh: CPU ${second?.cpuPercent} %`);
    assert.strictEqual(openStatFiles(pid), 1, 'through the same file');

    sampler.forget([]);
    assert.strictEqual(openStatFiles(pid), 0, 'forgotten: closed');
    assert.ok(sampler.sample(pid, Date.now()), 'sampled again: opened again');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.strictEqual(sampler.sample(pid, Date.now()), undefined, 'gone (reaped): no figures');
    assert.strictEqual(openStatFiles(pid), 0, 'and its file is closed');
  });
});
