import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { LineSplitter } from '../../src/core/lineSplitter';

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
