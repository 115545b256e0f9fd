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
});
