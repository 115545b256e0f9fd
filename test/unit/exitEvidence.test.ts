import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ExitStatus } from '../../src/core/model';
import { ExitEvidence } from '../../src/core/workers/exitEvidence';

describe('ExitEvidence', () => {
  const zombies = new Map<number, ExitStatus>();
  const evidence = () => new ExitEvidence((pid) => zombies.get(pid));

  it('the master\'s report first, then the zombie\'s status, then what the master logged, then the signal sent', () => {
    const e = evidence();
    e.signalSent(10, 'SIGTERM');
    assert.strictEqual(e.reasonFor(10).text, 'killed by SIGTERM');
    e.observeLine('[2026-11-30 05:00:00 +0000] [1] [ERROR] Worker (pid:10) was sent SIGKILL!');
    assert.strictEqual(e.reasonFor(10).text, 'killed by SIGKILL');
    zombies.set(10, { code: 3, signal: null });
    assert.strictEqual(e.reasonFor(10).text, 'exited with code 3');
    assert.strictEqual(e.reasonFor(10, { code: null, signal: 'SIGABRT' }).text, 'killed by SIGABRT');
    zombies.clear();
  });

  it('WORKER TIMEOUT marks any source as a timeout', () => {
    const e = evidence();
    e.observeLine('[2026-11-30 05:00:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:11)');
    assert.deepStrictEqual(e.reasonFor(11, { code: null, signal: 'SIGABRT' }), { code: null, signal: 'SIGABRT', timedOut: true, text: 'WORKER TIMEOUT (killed by SIGABRT)' });
    assert.strictEqual(e.reasonFor(11).text, 'WORKER TIMEOUT (exited (reason unknown))');
  });

  it('from a worker\'s own stream only timeouts count; nothing known is said so', () => {
    const e = evidence();
    e.observeTimeout('Worker (pid:12) exited with code 1');
    assert.strictEqual(e.reasonFor(12).text, 'exited (reason unknown)');
    e.observeLine('Worker (pid:12) exited with code 1');
    assert.strictEqual(e.reasonFor(12).text, 'exited with code 1');
    e.clear();
    assert.strictEqual(e.reasonFor(12).text, 'exited (reason unknown)');
  });
});
