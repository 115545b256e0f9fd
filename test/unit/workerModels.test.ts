/**
 * The model's workers from one snapshot to the next: a worker whose figures did not change is the same object (the
 * views skip its row by comparing it), a change makes a new one; and a tick that changes no figure says so.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { WorkerTable } from '../../src/core/workers/workerTable';

describe('worker models across snapshots', () => {
  it('an unchanged worker keeps its model object; a changed one gets a new, frozen one', () => {
    const table = new WorkerTable();
    table.add(101, 1000);
    table.add(102, 1000);
    table.markReady(101);
    table.markReady(102);
    assert.strictEqual(table.setUsage(101, 0, 4096), true, 'new figures are a change');
    const [first101, first102] = table.snapshot().workers;
    assert.strictEqual(table.setUsage(101, 0, 4096), false, 'the same figures are none');
    const [second101, second102] = table.snapshot().workers;
    assert.strictEqual(second101, first101, 'worker 1 did not change: the same object');
    assert.strictEqual(second102, first102);
    table.setUsage(102, 1.5, 8192);
    const [third101, third102] = table.snapshot().workers;
    assert.strictEqual(third101, first101);
    assert.notStrictEqual(third102, first102, 'worker 2 changed: a new object');
    assert.strictEqual(third102.cpuPercent, 1.5);
    assert.ok(Object.isFrozen(third102) && Object.isFrozen(third101));
  });
});
