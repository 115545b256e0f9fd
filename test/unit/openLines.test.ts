import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { OpenLineFlusher } from '../../src/core/openLines';

function source() {
  const state = { hasPartial: true, flushes: 0, flush: () => undefined as void };
  state.flush = () => {
    state.flushes++;
    state.hasPartial = false;
  };
  return state;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OpenLineFlusher', () => {
  it('flushes a partial line once its stream has been quiet for the quiet time, not before', async () => {
    const flusher = new OpenLineFlusher(40);
    const quiet = source();
    const busy = source();
    flusher.afterRead(quiet);
    const until = Date.now() + 120;
    while (Date.now() < until) {
      flusher.afterRead(busy); // a read every 10 ms: never quiet
      await wait(10);
    }
    assert.strictEqual(quiet.flushes, 1, 'the quiet stream was flushed');
    assert.strictEqual(busy.flushes, 0, 'the busy one was not');
    await wait(80);
    assert.strictEqual(busy.flushes, 1, 'then it was, once quiet');
  });

  it('leaves alone a stream whose line ended, or that closed', async () => {
    const flusher = new OpenLineFlusher(20);
    const ended = source();
    const closed = source();
    flusher.afterRead(ended);
    flusher.afterRead(closed);
    ended.hasPartial = false;
    flusher.afterRead(ended);
    flusher.forget(closed);
    await wait(60);
    assert.strictEqual(ended.flushes + closed.flushes, 0);
  });
});
