/** How the Workers view's rows read time: uptime at a coarser grain past a minute, and how soon time changes a row. */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ServerModel, WorkerModel } from '../../src/core/model';
import { formatUptime, timeMovesRowsIn } from '../../src/extension/format';

const now = 1_000_000_000;
const ago = (ms: number) => now - ms;

function worker(startedAt: number, inFlight = 0): WorkerModel {
  const insight = inFlight > 0 ? { inFlight } as WorkerModel['insight'] : undefined;
  return { slot: 1, pid: 2, state: 'ready', startedAt, restarts: 0, cpuPercent: 0, rssBytes: 0, debugging: false, generation: 1, insight };
}

function server(workers: WorkerModel[], masterStartedAt = ago(3_600_000)): ServerModel {
  return { master: { pid: 1, startedAt: masterStartedAt, cpuPercent: 0, rssBytes: 0 }, workers, retiring: [], incoming: [] } as unknown as ServerModel;
}

describe('uptime in the Workers view', () => {
  it('counts seconds in the first minute, then minutes, hours and minutes, days and hours', () => {
    assert.strictEqual(formatUptime(ago(59_999), now), '59s');
    assert.strictEqual(formatUptime(ago(60_000), now), '1m');
    assert.strictEqual(formatUptime(ago(59 * 60_000 + 59_000), now), '59m', 'no seconds past the first minute');
    assert.strictEqual(formatUptime(ago(2 * 3_600_000 + 5 * 60_000 + 30_000), now), '2h 5m');
    assert.strictEqual(formatUptime(ago(3 * 86_400_000 + 4 * 3_600_000), now), '3d 4h');
  });

  it('time changes a row within a second only while a process is in its first minute or a request is in flight', () => {
    assert.strictEqual(timeMovesRowsIn(server([worker(ago(3_600_000))]), now), 60_000, 'an idle server of old processes: a minute');
    assert.strictEqual(timeMovesRowsIn(server([worker(ago(30_000))]), now), 1000, 'a worker in its first minute');
    assert.strictEqual(timeMovesRowsIn(server([worker(ago(3_600_000))], ago(10_000)), now), 1000, 'a master in its first minute');
    assert.strictEqual(timeMovesRowsIn(server([worker(ago(3_600_000), 1)]), now), 1000, 'a request in flight (its age)');
    const exited = { ...worker(ago(1000)), state: 'exited' } as WorkerModel;
    assert.strictEqual(timeMovesRowsIn(server([exited]), now), 60_000, 'an exited worker shows no time');
  });
});
