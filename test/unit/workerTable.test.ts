import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { describeExit } from '../../src/core/model';
import { type ExitContext, WorkerTable } from '../../src/core/workers/workerTable';

const respawning: ExitContext = { replaced: true, serverKind: 'gunicorn' };
const killed = describeExit(null, 'SIGKILL');

/** A table with `count` ready workers, pids 101, 102, ... */
function readyTable(count: number): WorkerTable {
  const table = new WorkerTable();
  for (let i = 1; i <= count; i++) {
    table.add(100 + i, 1000);
    table.markReady(100 + i);
  }
  return table;
}

function slots(table: WorkerTable): Array<[number, number, string]> {
  return table.snapshot().workers.map((w) => [w.slot, w.pid, w.state]);
}

describe('WorkerTable', () => {
  it('gives the lowest free slot, starting at 1', () => {
    const table = new WorkerTable();
    assert.strictEqual(table.add(7, 0)?.worker.slot, 1);
    assert.strictEqual(table.add(8, 0)?.worker.slot, 2);
    assert.strictEqual(table.add(9, 0)?.worker.slot, 3);
    assert.deepStrictEqual(slots(table), [[1, 7, 'booting'], [2, 8, 'booting'], [3, 9, 'booting']]);
  });

  it('a worker that dies is replaced in its slot: restart count + 1, the reason kept, a marker line', () => {
    const table = readyTable(3);
    const exit = table.exited(102, killed, respawning);
    assert.strictEqual(exit?.type, 'exit');
    assert.deepStrictEqual(exit?.markers, [], 'a death the server repairs needs no marker yet');
    assert.deepStrictEqual(slots(table)[1], [2, 102, 'exited'], 'the exited row waits for its replacement');
    const up = table.add(200, 2000)!;
    assert.strictEqual(up.worker.slot, 2);
    assert.strictEqual(up.worker.restarts, 1);
    assert.strictEqual(up.worker.lastExit?.text, 'killed by SIGKILL');
    assert.deepStrictEqual(up.markers, [{ slot: 2, pid: 200, line: '── worker 2 restarted: pid 102 killed by SIGKILL → new pid 200' }]);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 200, 'booting'], [3, 103, 'ready']]);
  });

  it('with Gunicorn\'s boot guard on, a replacement that dies booting is not replaced: its slot closes at once (it waited 10 s)', () => {
    const table = readyTable(3);
    table.exited(102, killed, respawning);
    table.add(200, 2000); // Gunicorn's replacement, with code on disk that does not boot
    const exit = table.exited(200, describeExit(1, null), { ...respawning, guardedBoots: true })!;
    assert.deepStrictEqual(exit.markers, [{ slot: 2, pid: 200, line: '── worker 2 (pid 200) exited with code 1 before it was ready; the server goes on without it (the boot guard)' }]);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [3, 103, 'ready']]);
    assert.ok(table.readyCount(2));
    const unguarded = readyTable(1);
    unguarded.add(300, 0);
    unguarded.exited(300, describeExit(1, null), respawning);
    assert.deepStrictEqual(slots(unguarded), [[1, 101, 'ready'], [2, 300, 'exited']], 'without the guard, the server respawns it');
  });

  it('a dead worker\'s slot is reused before a free one, the lowest dead slot first', () => {
    const table = readyTable(4);
    table.exited(104, killed, respawning);
    table.exited(102, killed, respawning);
    assert.strictEqual(table.add(300, 0)?.worker.slot, 2);
    assert.strictEqual(table.add(301, 0)?.worker.slot, 4);
    assert.strictEqual(table.add(302, 0)?.worker.slot, 5, 'then the lowest free one');
  });

  it('a reload: each new worker boots beside an old one and takes its slot when ready; the old ones retire until they exit', () => {
    const table = readyTable(2);
    table.beginReload(0);
    const first = table.add(201, 0)!;
    assert.strictEqual(first.worker.slot, 1);
    assert.strictEqual(first.worker.generation, 2);
    assert.strictEqual(first.worker.restarts, 0, 'a reload is not a restart');
    assert.deepStrictEqual(first.markers.map((m) => m.line), ['── worker 1: new pid 201 (generation 2) boots beside pid 101']);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 102, 'ready']], 'the old workers hold their slots while the new ones boot');
    assert.deepStrictEqual(table.snapshot().incoming.map((w) => [w.slot, w.pid, w.state]), [[1, 201, 'booting']]);
    assert.strictEqual(table.reloadSettled(), false);
    table.add(202, 0);
    assert.deepStrictEqual(table.markReady(201)?.markers.map((m) => m.line), ['── worker 1 reloaded: pid 101 retires → new pid 201 (generation 2)']);
    assert.deepStrictEqual(table.snapshot().retiring.map((w) => [w.slot, w.pid, w.state]), [[1, 101, 'stopping']]);
    table.markReady(202);
    assert.deepStrictEqual(slots(table), [[1, 201, 'ready'], [2, 202, 'ready']]);
    assert.deepStrictEqual(table.snapshot().retiring.map((w) => w.pid), [101, 102]);
    assert.deepStrictEqual(table.reloadProgress(), { outgoing: 0, oldAlive: 2, newReady: 2, newBooting: 0, newFailed: 0 });
    assert.strictEqual(table.exited(101, describeExit(0, null), respawning)?.markers.length, 0);
    table.exited(102, describeExit(0, null), respawning);
    assert.deepStrictEqual(table.snapshot().retiring, []);
    assert.strictEqual(table.reloadSettled(), true);
    assert.deepStrictEqual(slots(table), [[1, 201, 'ready'], [2, 202, 'ready']], 'the retired workers left no row');
  });

  it('an old worker killed during a reload is one fewer of the old generation alive (Gunicorn replaces it among the new ones)', () => {
    const table = readyTable(3);
    table.beginReload(0);
    table.add(201, 0);
    table.markReady(201); // slot 1; 101 retires
    table.exited(102, killed, respawning); // before its successor came: its slot closes
    for (const pid of [202, 203, 204]) {
      table.add(pid, 0);
      table.markReady(pid);
    }
    assert.deepStrictEqual(table.reloadProgress(), { outgoing: 0, oldAlive: 2, newReady: 4, newBooting: 0, newFailed: 0 });
  });

  it('a reload whose new workers die before they are ready leaves the old generation in its slots, serving', () => {
    const table = readyTable(2);
    table.beginReload();
    table.add(201, 0);
    table.add(202, 0);
    const died = table.exited(201, describeExit(3, null), respawning)!;
    assert.strictEqual(died.diedBooting, true);
    assert.deepStrictEqual(died.markers.map((m) => m.line), ['── worker 1: the new pid 201 exited with code 3 before it was ready; pid 101 keeps serving']);
    table.exited(202, describeExit(3, null), respawning);
    assert.deepStrictEqual(table.reloadProgress(), { outgoing: 2, oldAlive: 2, newReady: 0, newBooting: 0, newFailed: 2 });
    table.endReload();
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 102, 'ready']]);
    assert.deepStrictEqual(table.snapshot().retiring, []);
    assert.strictEqual(table.reloadSettled(), true);
    assert.strictEqual(table.readyCount(2), true);
    assert.strictEqual(table.add(301, 0)?.worker.restarts, 0, 'after the reload, a new worker takes a free slot again');
  });

  it('a new worker that dies after it took the slot, its predecessor still running (an aborted reload), gives the slot back', () => {
    const table = readyTable(2);
    table.beginReload();
    table.add(201, 0);
    table.add(202, 0);
    table.markReady(201);
    table.exited(202, describeExit(3, null), respawning);
    table.endReload();
    const died = table.exited(201, killed, respawning)!;
    assert.deepStrictEqual(died.markers.map((m) => m.line), ['── worker 1: the new pid 201 killed by SIGKILL; pid 101 keeps serving']);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 102, 'ready']]);
    assert.deepStrictEqual(table.snapshot().retiring, []);
    assert.strictEqual(table.reloadSettled(), true);
  });

  it('an old worker that exits while its successor boots hands the slot over at once', () => {
    const table = readyTable(1);
    table.beginReload();
    table.add(201, 0);
    table.exited(101, describeExit(0, null), respawning);
    assert.deepStrictEqual(slots(table), [[1, 201, 'booting']]);
    assert.deepStrictEqual(table.markReady(201)?.markers.map((m) => m.line), []);
    assert.strictEqual(table.reloadSettled(), true);
  });

  it('a run started by a reload goes on counting generations', () => {
    const table = new WorkerTable(5);
    assert.strictEqual(table.add(1, 0)?.worker.generation, 5);
    table.beginReload();
    assert.strictEqual(table.currentGeneration, 6);
  });

  it('a reload whose old worker exits before a successor came: its slot closes and the next new worker takes the lowest free one', () => {
    const table = readyTable(2);
    table.beginReload(0);
    table.exited(102, describeExit(0, null), respawning);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready']]);
    assert.strictEqual(table.add(201, 0)?.worker.slot, 1, 'the old generation\'s slot 1 first');
    assert.strictEqual(table.add(202, 0)?.worker.slot, 2);
  });

  it('a reload whose new worker is killed: its replacement takes the dead slot, not one the old generation still holds; the reload settles', () => {
    const table = readyTable(3);
    table.beginReload(0);
    table.add(201, 0);
    table.markReady(201); // slot 1; 101 retires
    table.exited(201, killed, respawning);
    const replacement = table.add(202, 0)!;
    assert.strictEqual(replacement.worker.slot, 1, 'slot 1 first: its old worker serves it again until a new one is ready');
    assert.strictEqual(replacement.worker.restarts, 0, 'it replaces the old worker, not a dead one');
    table.markReady(202);
    for (const pid of [203, 204]) {
      table.add(pid, 0);
      table.markReady(pid);
    }
    for (const pid of [101, 102, 103]) table.exited(pid, describeExit(0, null), respawning);
    assert.deepStrictEqual(slots(table), [[1, 202, 'ready'], [2, 203, 'ready'], [3, 204, 'ready']]);
    assert.ok(table.reloadSettled() && table.readyCount(3));
  });

  it('a reload just after a worker died: the replacement the server started before the reload is retired with the old generation; the reload settles', () => {
    const table = readyTable(3);
    table.exited(102, killed, respawning); // slot 2 waits for its replacement
    table.beginReload(5000);
    const late = table.add(150, 5010, 4900)!; // the server replaced 102 before it took the reload's signal
    assert.strictEqual(late.worker.slot, 2, 'it fills the dead slot');
    table.markReady(150);
    for (const pid of [201, 202, 203]) {
      table.add(pid, 6000);
      table.markReady(pid);
    }
    // The server retires the old generation, the late replacement with it (gracefully: a death would be replaced).
    for (const pid of [101, 150, 103]) table.exited(pid, describeExit(0, null), respawning);
    assert.deepStrictEqual(slots(table).map(([, pid, state]) => [pid, state]), [[201, 'ready'], [202, 'ready'], [203, 'ready']]);
    assert.ok(table.reloadSettled() && table.readyCount(3), 'settled with the new generation only');
  });

  it('a worker /proc says started a few ms before the reload began is the reload\'s (the start time is known to 10 ms)', () => {
    const table = readyTable(2);
    table.beginReload(5000);
    const early = table.add(201, 5010, 4985)!; // forked right after the call; /proc's coarse clock puts it 15 ms earlier
    assert.strictEqual(early.worker.generation, 2, 'the new generation');
    assert.match(early.markers[0].line, /boots beside pid 101/);
    assert.deepStrictEqual(slots(table).map(([slot]) => slot), [1, 2], 'no slot of its own');
  });

  it('during a reload, a worker of the new generation that the server stops (not a death) closes its slot', () => {
    const table = readyTable(2);
    table.beginReload(5000);
    for (const pid of [150, 201, 202]) { // 150: started for a dead worker as the reload began; the server counts it as old
      table.add(pid, 5010);
      table.markReady(pid);
    }
    for (const pid of [101, 102]) table.exited(pid, describeExit(0, null), respawning);
    table.exited(150, describeExit(null, 'SIGTERM'), respawning);
    table.exited(201, killed, respawning); // a death still waits for its replacement
    assert.deepStrictEqual(slots(table).map(([, pid, state]) => [pid, state]), [[201, 'exited'], [202, 'ready']]);
    table.add(203, 6000);
    table.markReady(203);
    table.endReload();
    assert.ok(table.reloadSettled() && table.readyCount(2));
  });

  it('a dead slot the server does not refill within the given time closes, with a marker; a younger one waits', () => {
    const table = readyTable(3);
    table.exited(102, killed, { ...respawning, at: 10_000 });
    table.exited(103, killed, { ...respawning, at: 15_000 });
    const closed = table.closeUnreplaced(20_000, 10_000);
    assert.deepStrictEqual(closed.map((c) => c.markers[0].line), ['── worker 2 (pid 102) was not replaced by the server: its slot closes']);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [3, 103, 'exited']]);
    assert.strictEqual(table.slotCount(), 2);
  });

  it('scaling down closes the slot of whichever worker the server chose to stop', () => {
    const table = readyTable(3);
    table.expectRemoval();
    const exit = table.exited(101, describeExit(0, null), respawning)!;
    assert.deepStrictEqual(exit.markers.map((m) => m.line), ['── worker 1 (pid 101) removed by scaling down']);
    assert.deepStrictEqual(slots(table), [[2, 102, 'ready'], [3, 103, 'ready']]);
    assert.strictEqual(table.liveCount(), 2);
    table.exited(103, killed, respawning);
    assert.deepStrictEqual(slots(table), [[2, 102, 'ready'], [3, 103, 'exited']], 'only one removal was expected: the next death waits for a replacement');
  });

  it('a worker the server does not replace says so in its slot', () => {
    const table = readyTable(2);
    const exit = table.exited(101, killed, { replaced: false, serverKind: 'uvicorn' })!;
    assert.deepStrictEqual(exit.markers.map((m) => m.line), ['── worker 1 (pid 101) killed by SIGKILL; uvicorn does not replace it']);
    const stopping = readyTable(2).exited(102, killed, { replaced: false, serverKind: 'hypercorn', stopsServer: true })!;
    assert.deepStrictEqual(stopping.markers.map((m) => m.line), ['── worker 2 (pid 102) killed by SIGKILL; hypercorn does not replace it: it stops every worker and itself when one dies']);
  });

  it('a hand-over of one worker (Granian: its successor starts first): the successor boots beside it, takes its slot when ready, the old one retires', () => {
    const table = readyTable(3);
    table.expectReplacement(102, 'reached its lifetime');
    const up = table.add(200, 0)!;
    assert.strictEqual(up.worker.slot, 2);
    assert.strictEqual(up.worker.restarts, 0, 'a hand-over is not a restart');
    assert.strictEqual(up.worker.generation, 1, 'nor a new generation');
    assert.deepStrictEqual(up.markers.map((m) => m.line), ['── worker 2: new pid 200 (reached its lifetime) boots beside pid 102']);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 102, 'ready'], [3, 103, 'ready']], 'the old worker serves until its successor is ready');
    assert.deepStrictEqual(table.markReady(200)?.markers.map((m) => m.line), ['── worker 2 reached its lifetime: pid 102 retires → new pid 200']);
    assert.deepStrictEqual(table.snapshot().retiring.map((w) => [w.pid, w.state]), [[102, 'stopping']]);
    assert.strictEqual(table.exited(102, describeExit(0, null), respawning)?.markers.length, 0);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 200, 'ready'], [3, 103, 'ready']]);
    assert.ok(table.reloadSettled());
  });

  it('a hand-over whose old worker stops before its successor is ready: the booting successor holds the slot', () => {
    const table = readyTable(2);
    table.expectReplacement(102, 'reloaded');
    table.add(200, 0);
    assert.deepStrictEqual(table.exited(102, describeExit(0, null), respawning)?.markers, []);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready'], [2, 200, 'booting']]);
    assert.deepStrictEqual(table.markReady(200)?.markers, [], 'the slot was handed over already');
    assert.ok(table.reloadSettled());
  });

  it('during a reload, the worker the server names next hands its slot over, whatever its slot number', () => {
    const table = readyTable(3);
    table.beginReload();
    table.expectReplacement(103, 'recycled');
    const up = table.add(300, 0)!;
    assert.strictEqual(up.worker.slot, 3, 'the named worker\'s slot, not the lowest');
    assert.deepStrictEqual(table.markReady(300)?.markers.map((m) => m.line), ['── worker 3 reloaded: pid 103 retires → new pid 300 (generation 2)'], 'a reload keeps its reason');
    assert.strictEqual(table.add(301, 0)!.worker.slot, 1, 'then the lowest outgoing slot');
  });

  it('a hand-over of a dead worker is no hand-over: its successor is a restart', () => {
    const table = readyTable(2);
    table.exited(102, killed, respawning);
    table.expectReplacement(102, 'reloaded');
    const up = table.add(200, 0)!;
    assert.strictEqual(up.worker.restarts, 1);
    assert.match(up.markers[0].line, /restarted: pid 102 killed by SIGKILL/);
  });

  it('a worker recycled by the server itself, successor first: the slot shows why its old worker went', () => {
    const table = readyTable(2);
    table.markRecycled(101, 'recycled: it used 600 MiB, over the 512 MiB limit');
    table.expectReplacement(101, 'recycled');
    table.add(200, 0);
    table.exited(101, describeExit(0, null), respawning);
    assert.strictEqual(table.inSlot(1)?.lastExit?.text, 'recycled: it used 600 MiB, over the 512 MiB limit (exited with code 0)');
  });

  it('a pid reported twice: one slot; a second exit only makes the reason exact', () => {
    const table = new WorkerTable();
    assert.ok(table.add(5, 0));
    assert.strictEqual(table.add(5, 0), undefined, 'the second hello of a pid changes nothing');
    assert.strictEqual(table.snapshot().workers.length, 1);
    table.exited(5, describeExit(null, null), respawning);
    assert.strictEqual(table.exited(5, killed, respawning), undefined, 'no second exit event');
    assert.strictEqual(table.snapshot().workers[0].lastExit?.text, 'killed by SIGKILL', 'the master\'s exact report corrects the reason');
    table.add(6, 0);
    table.exited(5, describeExit(3, null), respawning);
    assert.strictEqual(table.inSlot(1)?.lastExit?.text, 'exited with code 3', 'also once a successor holds the slot');
  });

  it('an exit reported before the hello: the pid never becomes a booting worker that no process backs', () => {
    const table = readyTable(1);
    assert.strictEqual(table.exited(999, killed, respawning), undefined);
    assert.strictEqual(table.add(999, 0), undefined);
    assert.deepStrictEqual(slots(table), [[1, 101, 'ready']]);
    assert.strictEqual(table.readyCount(1), true);
  });

  it('a worker recycled over the memory limit exits with the reason said', () => {
    const table = readyTable(1);
    table.markRecycled(101, 'recycled: it used 600 MiB, over the 512 MiB limit');
    assert.strictEqual(table.exited(101, describeExit(0, null), respawning)?.worker.lastExit?.text, 'recycled: it used 600 MiB, over the 512 MiB limit (exited with code 0)');
  });

  it('snapshots are frozen: a reader cannot change the table', () => {
    const table = readyTable(1);
    const { workers } = table.snapshot();
    assert.throws(() => {
      (workers[0] as { state: string }).state = 'exited';
    }, TypeError);
    assert.strictEqual(table.stateOf(101), 'ready');
  });

  it('ready means exactly the wanted count of slots, each ready', () => {
    const table = readyTable(2);
    assert.strictEqual(table.readyCount(2), true);
    assert.strictEqual(table.readyCount(3), false);
    table.add(103, 0);
    assert.strictEqual(table.readyCount(3), false, 'the third is booting');
    table.markReady(103);
    assert.strictEqual(table.readyCount(3), true);
  });
});
