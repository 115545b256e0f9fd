import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { TurnEndThrottle } from '../../src/core/output/turnEndThrottle';

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('TurnEndThrottle', () => {
  it('runs a first request at the end of this turn, after what the turn still does, without waiting the interval', async () => {
    const order: string[] = [];
    const throttle = new TurnEndThrottle(1000, () => order.push('run'));
    throttle.request();
    setImmediate(() => order.push('end of the turn, queued after the request'));
    order.push('rest of the turn');
    // Queued after both: a timer could fire first in a stalled loop (the immediates then wait for the next turn).
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepStrictEqual(order, ['rest of the turn', 'run', 'end of the turn, queued after the request']);
  });

  it('runs the requests of one interval once, when the interval is over', async () => {
    let runs = 0;
    const throttle = new TurnEndThrottle(300, () => runs++);
    throttle.runNow();
    const ranAt = Date.now();
    for (let i = 0; i < 5; i++) {
      throttle.request();
      await later(5);
    }
    assert.strictEqual(runs, 1, 'none within the interval');
    await later(400);
    assert.strictEqual(runs, 2, 'then one for all of them');
    assert.ok(Date.now() - ranAt >= 300);
  });

  it('a run made due by its timer still takes what a timer expiring with it adds (a read beat)', async () => {
    const taken: string[][] = [];
    let pending: string[] = [];
    const throttle = new TurnEndThrottle(30, () => {
      taken.push(pending);
      pending = [];
    });
    throttle.runNow();
    pending.push('line before the interval ends');
    throttle.request();
    // Created after the throttle's timer with the same delay; the loop is then kept busy past both, so that they
    // run in one turn (as a beat's timer and the throttle's do when they expire together), the throttle's first.
    setTimeout(() => pending.push('line read at the beat'), 30);
    const busyUntil = Date.now() + 50;
    while (Date.now() < busyUntil);
    await later(30);
    assert.deepStrictEqual(taken.slice(1), [['line before the interval ends', 'line read at the beat']]);
  });

  it('runNow cancels a requested run', async () => {
    let runs = 0;
    const throttle = new TurnEndThrottle(10, () => runs++);
    throttle.request();
    throttle.runNow();
    await later(40);
    assert.strictEqual(runs, 1);
  });

  it('a run due within a fifth of the interval runs at this turn\'s end, not on a timer of its own (a read beat\'s flush)', async () => {
    let runs = 0;
    const throttle = new TurnEndThrottle(100, () => runs++);
    throttle.runNow();
    await later(85);
    throttle.request();
    await new Promise((resolve) => setImmediate(resolve));
    assert.strictEqual(runs, 2, 'run in the turn of the request');
  });
});
