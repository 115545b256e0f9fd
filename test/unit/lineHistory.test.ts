import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { LineHistory } from '../../src/core/history/lineHistory';
import { CHUNK_BYTES } from '../../src/core/output/lineTail';
import type { OutputEvent } from '../../src/core/serverEvents';

const event = (slot: number, lines: string[], extra: Partial<OutputEvent> = {}): OutputEvent => ({ slot, pid: 1000 + slot, lines, ...extra });

describe('LineHistory', () => {
  it('numbers every line in one sequence across the streams, each line once, with its slot and pid', () => {
    const history = new LineHistory();
    history.record(event(0, ['master up']), 1);
    history.record(event(1, ['w1 a', 'w1 b']), 2);
    history.record(event(2, ['w2 a']), 3);
    history.record(event(1, ['── restarted'], { marker: true }), 4);
    assert.strictEqual(history.lastSeq, 5);
    assert.deepStrictEqual(history.slots(), [0, 1, 2]);
    const all = history.read({ since: 0, limit: 100 });
    assert.deepStrictEqual(all.map((l) => [l.seq, l.slot, l.pid, l.text, l.marker]), [
      [1, 0, 1000, 'master up', false],
      [2, 1, 1001, 'w1 a', false],
      [3, 1, 1001, 'w1 b', false],
      [4, 2, 1002, 'w2 a', false],
      [5, 1, 1001, '── restarted', true],
    ]);
    assert.deepStrictEqual(history.read({ slots: [1], since: 2, limit: 100 }).map((l) => l.seq), [3, 5]);
    assert.deepStrictEqual(history.read({ limit: 2 }).map((l) => l.seq), [4, 5], 'without a cursor: the newest');
    assert.deepStrictEqual(history.read({ slots: [1], limit: 2 }).map((l) => l.seq), [3, 5]);
    assert.deepStrictEqual(history.read({ since: 1, limit: 2 }).map((l) => l.seq), [2, 3], 'with a cursor: the oldest after it');
    assert.deepStrictEqual(history.read({ slots: [7], since: 0, limit: 5 }), [], 'a slot with no lines');
    assert.strictEqual(history.stream(1)!.text(), 'w1 a\nw1 b\n── restarted\n');
  });

  it('reads in blocks across chunks, merged by seq, and stops at a byte budget', () => {
    const history = new LineHistory();
    for (let i = 0; i < 3000; i++) history.record(event(1 + (i % 3), [`line ${String(i).padStart(4, '0')} ${'z'.repeat(50)}`]));
    const all = history.read({ since: 0, limit: 10000 });
    assert.deepStrictEqual(all.map((l) => l.seq), Array.from({ length: 3000 }, (_, i) => i + 1));
    assert.deepStrictEqual(history.read({ limit: 3 }).map((l) => l.text.split(' ')[1]), ['2997', '2998', '2999']);
    assert.deepStrictEqual(history.read({ slots: [2, 3], since: 2990, limit: 4 }).map((l) => l.seq), [2991, 2993, 2994, 2996]);
    const budget = history.read({ since: 0, limit: 10000, budgetBytes: 600 });
    assert.strictEqual(budget.length, 10, '10 lines of 60 bytes reach 600');
    assert.strictEqual(history.read({ limit: 10000, budgetBytes: 600 }).at(-1)!.seq, 3000, 'without a cursor, the newest');
  });

  it('a partial line continues in place when its own stream continues it, else its rest is a line of its own', () => {
    const history = new LineHistory();
    history.record(event(0, ['Loading'], { partial: true, stream: 'stdout' }));
    history.record(event(0, ['... done'], { continues: true, stream: 'stdout' }));
    history.record(event(0, ['step'], { partial: true, stream: 'stdout' }));
    history.record(event(0, ['an error'], { stream: 'stderr' })); // the other pipe ends the open line
    history.record(event(0, [' 2'], { continues: true, stream: 'stdout' }));
    // A continued line takes the newest seq: a reader that polled in between sees it again, whole.
    assert.deepStrictEqual(history.read({ since: 0, limit: 10 }).map((l) => [l.seq, l.text]), [
      [2, 'Loading... done'],
      [3, 'step'],
      [4, 'an error'],
      [5, '↪  2'],
    ]);
  });

  it('polling with the cursor sees every line once and in order while they are kept; a trim says how many were lost', () => {
    const history = new LineHistory(undefined, 100, 400);
    let next = 0;
    const seen: string[] = [];
    for (let i = 0; i < 3000; i++) {
      history.record(event(1 + (i % 3), [`line ${i}`]));
      if (i % 50 === 49) {
        const lines = history.read({ since: next, limit: 1000 });
        assert.deepStrictEqual(history.lostAfter(next), { count: 0, exact: true });
        seen.push(...lines.map((l) => l.text));
        next = lines.at(-1)!.seq;
      }
    }
    assert.deepStrictEqual(seen, Array.from({ length: 3000 }, (_, i) => `line ${i}`));
    // A cursor from before the oldest kept lines: the lines after it that were dropped.
    const oldest = history.read({ since: 0, limit: 1 })[0].seq;
    assert.deepStrictEqual(history.lostAfter(oldest - 31), { count: 30, exact: true });
    // Per stream: exact while the stream remembers the dropped lines' numbers (its last `keep`), else a lower bound.
    const lostOfSlot1 = history.lostAfter(10, [1]);
    const keptOfSlot1 = history.read({ slots: [1], since: 10, limit: 100000 }).length;
    assert.strictEqual(lostOfSlot1.exact, false);
    assert.ok(lostOfSlot1.count >= 100 && lostOfSlot1.count + keptOfSlot1 <= 1000 - 4, 'slot 1 wrote every third line, 4 of them before seq 11');
    const oldestOfSlot1 = history.read({ slots: [1], since: 0, limit: 1 })[0].seq;
    assert.deepStrictEqual(history.lostAfter(oldestOfSlot1 - 30, [1]), { count: 9, exact: true }, 'every third seq of the 29 before its oldest kept line');
  });

  it('a flood of 1,000,000 lines keeps memory bounded: at most the maximum of lines per stream', () => {
    const history = new LineHistory();
    const line = 'flood line with some text in it, about sixty bytes long ......';
    for (let i = 0; i < 1_000_000; i += 500) history.record(event(1 + ((i / 500) % 4), Array<string>(500).fill(line)));
    assert.strictEqual(history.lastSeq, 1_000_000);
    for (const slot of history.slots()) {
      const tail = history.stream(slot)!;
      const keptLines = tail.total - tail.dropped;
      assert.ok(keptLines >= 10000 && keptLines <= 40000, `${keptLines} lines kept in slot ${slot}`);
      const bound = 2 * (40000 * (line.length + 1 + 17) + CHUNK_BYTES);
      assert.ok(tail.allocatedBytes() <= bound, `slot ${slot} holds ${tail.allocatedBytes()} bytes, at most ${bound}`);
    }
    // A cursor from before the flood: each stream remembers its last 10,000 dropped lines, so "at least" that many.
    const dropped = history.slots().reduce((sum, slot) => sum + history.stream(slot)!.dropped, 0);
    const lost = history.lostAfter(0);
    assert.strictEqual(lost.exact, false);
    assert.ok(lost.count >= 40000 && lost.count <= dropped, `${lost.count} of ${dropped}`);
  });
});
