import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { LineSplitter, MAX_LINE_BYTES, PIECE_CONTINUED, PIECE_OPEN } from '../../src/core/lineSplitter';

function split(chunks: Array<string | Buffer>, end = false): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  if (end) splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits complete lines and keeps a partial one until its newline', () => {
    assert.deepStrictEqual(split(['a\nb', 'c\nd']), ['a', 'bc']);
    assert.deepStrictEqual(split(['a\nb', 'c\nd'], true), ['a', 'bc', 'd']);
  });

  it('joins a line split over many chunks', () => {
    assert.deepStrictEqual(split(['x', 'y', 'z', '\n']), ['xyz']);
  });

  it('keeps empty lines and strips CR', () => {
    assert.deepStrictEqual(split(['a\r\n\n\nb\n']), ['a', '', '', 'b']);
  });

  it('does not cut a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('héllo ✓\n');
    assert.deepStrictEqual(split([bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)]), ['héllo ✓']);
  });
});

describe('LineSplitter on long lines', () => {
  it('cuts a line at the maximum into open pieces, each continued by the next, never inside a character, losing nothing', () => {
    const text = `${'ab✓'.repeat(10)}\n`;
    const lines: string[] = [];
    const pieces: number[] = [];
    const splitter = new LineSplitter((line, piece) => {
      lines.push(line);
      pieces.push(piece);
    }, 8);
    for (const byte of Buffer.from(text)) splitter.push(Buffer.from([byte]));
    assert.ok(lines.length > 1, 'the line was cut');
    assert.strictEqual(pieces[0], PIECE_OPEN, 'the first piece is open');
    assert.ok(pieces.slice(1, -1).every((p) => p === (PIECE_OPEN | PIECE_CONTINUED)), 'the middle pieces continue and stay open');
    assert.strictEqual(pieces[pieces.length - 1], PIECE_CONTINUED, 'the last piece ends the line');
    assert.ok(lines.every((l) => Buffer.byteLength(l) <= 8), 'no piece is longer than the maximum');
    assert.ok(lines.every((l) => !l.includes('\ufffd')), 'no character was cut in two');
    assert.strictEqual(lines.join(''), text.slice(0, -1), 'nothing lost or doubled');
  });

  it('flush() sends a partial line out as an open piece; its rest continues it; an empty piece ends it', () => {
    const got: Array<[string, number]> = [];
    const splitter = new LineSplitter((line, piece) => got.push([line, piece]));
    splitter.push(Buffer.from('a\nLoading'));
    assert.ok(splitter.hasPartial);
    splitter.flush();
    assert.ok(!splitter.hasPartial);
    splitter.flush(); // nothing more to send
    splitter.push(Buffer.from('... done\nb\nc'));
    splitter.flush();
    splitter.push(Buffer.from('\n'));
    assert.deepStrictEqual(got, [['a', 0], ['Loading', PIECE_OPEN], ['... done', PIECE_CONTINUED], ['b', 0], ['c', PIECE_OPEN], ['', PIECE_CONTINUED]]);
  });

  it('flush() keeps the first bytes of a character whose last bytes have not come', () => {
    const got: string[] = [];
    const splitter = new LineSplitter((line) => got.push(line));
    const bytes = Buffer.from('ok ✓\n');
    splitter.push(bytes.subarray(0, 4)); // 'ok ' and the first byte of ✓
    splitter.flush();
    splitter.push(bytes.subarray(4));
    assert.deepStrictEqual(got, ['ok ', '✓']);
  });

  it('holds at most one maximum of a line without a newline, and copies each byte a bounded number of times (10 MB)', () => {
    const saved = Object.getOwnPropertyDescriptor(Buffer, 'concat')!;
    const realConcat = Buffer.concat.bind(Buffer);
    let concatenated = 0;
    Buffer.concat = (list: readonly Uint8Array[], length?: number) => {
      const joined = realConcat(list, length);
      concatenated += joined.length;
      return joined;
    };
    try {
      const lines: string[] = [];
      const splitter = new LineSplitter((line) => lines.push(line));
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const total = 10 * 1024 * 1024;
      for (let sent = 0; sent < total; sent += chunk.length) splitter.push(chunk);
      splitter.push(Buffer.from('\n'));
      assert.strictEqual(lines.length, total / MAX_LINE_BYTES, 'ten pieces of 1 MiB');
      assert.strictEqual(lines.reduce((n, l) => n + l.length, 0), total, 'every byte arrives once');
      assert.ok(concatenated <= 2 * total, `bytes joined: ${concatenated}, at most twice the ${total} pushed (linear, not quadratic)`);
    } finally {
      Object.defineProperty(Buffer, 'concat', saved);
    }
  });

  it('a line of exactly the maximum ends with its newline, without an empty continuation', () => {
    assert.deepStrictEqual(
      (() => {
        const lines: string[] = [];
        const splitter = new LineSplitter((line) => lines.push(line), 4);
        splitter.push(Buffer.from('abcd\nef\n'));
        return lines;
      })(),
      ['abcd', 'ef'],
    );
  });
});
