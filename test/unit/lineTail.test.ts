import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { CHUNK_BYTES, LineTail } from '../../src/core/output/lineTail';

function numbered(from: number, count: number, width = 0): string[] {
  return Array.from({ length: count }, (_, i) => `line ${from + i}`.padEnd(width, '.'));
}

describe('LineTail', () => {
  it('keeps every line until the maximum, in order, and counts them', () => {
    const tail = new LineTail(10, 40);
    tail.push(['a', '', 'b']);
    tail.push(['c']);
    assert.deepStrictEqual(tail.lines(), ['a', '', 'b', 'c']);
    assert.strictEqual(tail.text(), 'a\n\nb\nc\n');
    assert.strictEqual(tail.total, 4);
    assert.strictEqual(tail.dropped, 0);
    assert.deepStrictEqual(new LineTail(1, 2).lines(), []);
  });

  it('an open last line shows at once; its continuation goes on the same line; anything else ends it first', () => {
    const tail = new LineTail(10, 40);
    tail.push(['a', 'Loading'], false, true);
    assert.strictEqual(tail.takeUnread(), 'a\nLoading');
    assert.ok(tail.endsOpen);
    tail.push(['... done', 'b'], true, false);
    assert.strictEqual(tail.takeUnread(), '... done\nb\n');
    tail.push(['c'], false, true);
    tail.push(['d']); // not a continuation: c ends first
    tail.push([''], true); // a continuation with no open line to join is a line of its own
    assert.deepStrictEqual(tail.lines(), ['a', 'Loading... done', 'b', 'c', 'd', '']);
    assert.strictEqual(tail.total, 6, 'a line continued is counted once');
  });

  it('past the maximum, drops the oldest lines down to at least the kept count: the newest, none missing', () => {
    const tail = new LineTail(3000, 12000); // the kept lines span several chunks
    for (let i = 0; i < 100_000; i += 250) {
      tail.push(numbered(i, 250, 60));
      const kept = tail.total - tail.dropped;
      assert.ok(kept >= Math.min(3000, tail.total) && kept <= 12000, `${kept} lines kept after ${tail.total}`);
    }
    const lines = tail.lines();
    assert.ok(lines.length >= 3000 && lines.length <= 12000, `${lines.length} lines kept`);
    assert.deepStrictEqual(lines, numbered(100_000 - lines.length, lines.length, 60));
    assert.strictEqual(tail.dropped + lines.length, 100_000);
    assert.strictEqual(tail.total, 100_000);
  });

  it('reads what is new since the last read, across chunks and trims', () => {
    const tail = new LineTail(100, 400);
    tail.push(['one', 'two']);
    assert.ok(tail.hasUnread());
    assert.strictEqual(tail.takeUnread(), 'one\ntwo\n');
    assert.ok(!tail.hasUnread());
    assert.strictEqual(tail.takeUnread(), '');
    const many = numbered(0, 3000, 100); // about 300 KB: several chunks
    tail.push(many.slice(0, 350));
    assert.strictEqual(tail.takeUnread(), `${many.slice(0, 350).join('\n')}\n`);
    tail.push(many.slice(350));
    const kept = tail.lines();
    assert.ok(tail.dropped > 0);
    // Only what is still kept is unread; a reader that replaces with text() after a trim skips it.
    assert.strictEqual(tail.takeUnread(), `${kept.join('\n')}\n`);
    tail.push(['last']);
    tail.skipUnread();
    assert.ok(!tail.hasUnread());
  });

  it('stores any text: multi-byte characters, lone surrogates, a line longer than a chunk', () => {
    const tail = new LineTail(10, 40);
    const long = 'é'.repeat(CHUNK_BYTES); // twice a chunk's bytes
    const lines = ['héllo ✓ 日本', long, '\ud800 lone', 'after'];
    tail.push(lines);
    assert.deepStrictEqual(tail.lines(), ['héllo ✓ 日本', long, '\ufffd lone', 'after']);
  });

  it('reuses its chunks: a long flood allocates no more than its fullest moment', () => {
    const tail = new LineTail(1000, 4000);
    const batch = numbered(0, 1000, 80);
    for (let i = 0; i < 8; i++) tail.push(batch);
    const settled = tail.allocatedBytes();
    for (let i = 0; i < 200; i++) tail.push(batch);
    assert.strictEqual(tail.allocatedBytes(), settled);
    // At most the maximum's bytes, one chunk of slack, and the chunks a trim handed back.
    assert.ok(settled <= 2 * (4000 * 81 + CHUNK_BYTES), `${settled} bytes`);
  });

  it('keeps each line\'s facts: seq, pid, time, marker; reads by line number and seq', () => {
    const tail = new LineTail(10, 40);
    assert.strictEqual(tail.push(['a', 'b'], false, false, { seq: 5, pid: 100, time: 1000, marker: false }), 2);
    tail.push(['── marker'], false, false, { seq: 9, pid: 100, time: 2000, marker: true });
    assert.deepStrictEqual(tail.read(0, 3), [
      { seq: 5, pid: 100, time: 1000, marker: false, slot: 0, text: 'a', bytes: 1, textBytes: 1 },
      { seq: 6, pid: 100, time: 1000, marker: false, slot: 0, text: 'b', bytes: 1, textBytes: 1 },
      { seq: 9, pid: 100, time: 2000, marker: true, slot: 0, text: '── marker', bytes: 13, textBytes: 13 },
    ]);
    assert.strictEqual(tail.lastSeq, 9);
    assert.strictEqual(tail.numberAfter(0), 0);
    assert.strictEqual(tail.numberAfter(5), 1);
    assert.strictEqual(tail.numberAfter(6), 2);
    assert.strictEqual(tail.numberAfter(8), 2);
    assert.strictEqual(tail.numberAfter(9), 3, 'none after the newest');
  });

  it('an open line is one line, without a newline until it ends; continued, it takes the newest seq', () => {
    const tail = new LineTail(10, 40);
    tail.push(['Loading'], false, true, { seq: 1, pid: 7, time: 10, marker: false });
    assert.deepStrictEqual(tail.read(0, 1).map((l) => [l.text, l.bytes]), [['Loading', 7]]);
    tail.push(['... done', 'next'], true, false, { seq: 2, pid: 7, time: 20, marker: false });
    assert.deepStrictEqual(tail.read(0, 2).map((l) => [l.seq, l.time, l.text]), [[2, 10, 'Loading... done'], [3, 20, 'next']]);
    assert.strictEqual(tail.total, 2);
  });

  it('cuts a long line to a reader\'s limit at a character boundary and says its whole length; a line may span chunks', () => {
    const tail = new LineTail(10, 40);
    tail.push(['short']);
    const long = `${'é'.repeat(CHUNK_BYTES)}end`; // 2 bytes a character: the line spans chunks
    tail.push([long, 'after']);
    const [cut] = tail.read(1, 2, 5);
    assert.strictEqual(cut.text, 'éé', 'never half a character');
    assert.deepStrictEqual([cut.bytes, cut.textBytes], [Buffer.byteLength(long), 4]);
    assert.strictEqual(tail.read(1, 2)[0].text, long);
    assert.strictEqual(tail.read(2, 3)[0].text, 'after');
  });

  it('a trim says how many lines after a cursor were lost: exactly, or at least that many once it forgot', () => {
    const tail = new LineTail(1000, 1500);
    // 250 lines a push; the other streams' lines take the 250 seqs after each push.
    const seqOf = (line: number) => 1 + Math.floor(line / 250) * 500 + (line % 250);
    const push = () => tail.push(numbered(tail.total, 250, 60), false, false, { seq: seqOf(tail.total), pid: 1, time: 0, marker: false });
    for (let i = 0; i < 7; i++) push();
    assert.ok(tail.dropped >= 250 && tail.dropped < 1000, `${tail.dropped} dropped`);
    assert.deepStrictEqual(tail.droppedAfter(0), { count: tail.dropped, exact: true });
    assert.deepStrictEqual(tail.droppedAfter(tail.seqOf(tail.dropped) - 1), { count: 0, exact: true }, 'no loss just before the oldest kept line');
    assert.deepStrictEqual(tail.droppedAfter(seqOf(249)), { count: tail.dropped - 250, exact: true }, 'the first push\'s lines were before the cursor');
    for (let i = 0; i < 200; i++) push();
    const lost = tail.droppedAfter(0);
    assert.strictEqual(lost.exact, false, 'older than the remembered drops');
    assert.ok(lost.count >= 1000 && lost.count <= tail.dropped, `${lost.count} of ${tail.dropped}`);
    assert.deepStrictEqual(tail.droppedAfter(seqOf(tail.dropped - 101)), { count: 100, exact: true });
  });
});
