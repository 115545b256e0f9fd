import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { WorkerPositions } from '../../src/core/workers/workerPositions';

describe('WorkerPositions (Granian\'s worker-1..N)', () => {
  it('a respawn of a position hands over the pid that holds it, with the reason the master gave first', () => {
    const positions = new WorkerPositions();
    assert.strictEqual(positions.read('[INFO] Spawning worker-1 with PID: 11'), undefined);
    assert.strictEqual(positions.read('[INFO] Spawning worker-2 with PID: 12'), undefined);
    assert.deepStrictEqual(positions.read('[INFO] worker-2 RSS over threshold, gracefully respawning..'), { type: 'overMemory', pid: 12 });
    assert.deepStrictEqual(positions.read('[INFO] Respawning worker-2'), { type: 'handover', pid: 12, because: 'recycled' });
    assert.strictEqual(positions.read('[INFO] Spawning worker-2 with PID: 22'), undefined);
    assert.deepStrictEqual(positions.read('[INFO] Respawning worker-2'), { type: 'handover', pid: 22, because: 'reloaded' }, 'the reason is used once');
    assert.strictEqual(positions.read('[INFO] worker-1 lifetime expired, gracefully respawning..'), undefined);
    assert.deepStrictEqual(positions.read('[INFO] Respawning worker-1'), { type: 'handover', pid: 11, because: 'reached its lifetime' });
  });

  it('a position it has not seen spawned hands over nothing; other lines mean nothing', () => {
    const positions = new WorkerPositions();
    assert.strictEqual(positions.read('[INFO] Respawning worker-4'), undefined);
    assert.strictEqual(positions.read('[INFO] Started worker-4'), undefined);
    assert.strictEqual(positions.read('print-12-0'), undefined);
  });
});
