import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { parsePositionFact, parseWorkerLogFact, pidOfLogLine, tracebackLocation } from '../../src/core/logPatterns';

describe('log patterns', () => {
  it('reads Gunicorn and Uvicorn worker facts', () => {
    assert.deepStrictEqual(parseWorkerLogFact('[2026-11-24 19:51:57 +0000] [10327] [INFO] Booting worker with pid: 10327'), { kind: 'booting', pid: 10327 });
    assert.deepStrictEqual(parseWorkerLogFact('INFO:     Started server process [42]'), { kind: 'started', pid: 42 });
    assert.deepStrictEqual(parseWorkerLogFact('[x] [1] [CRITICAL] WORKER TIMEOUT (pid:77)'), { kind: 'timeout', pid: 77 });
    assert.deepStrictEqual(parseWorkerLogFact('[x] [1] [ERROR] Worker (pid:78) was sent SIGKILL! Perhaps out of memory?'), { kind: 'signalled', pid: 78, signal: 'SIGKILL' });
    assert.deepStrictEqual(parseWorkerLogFact('[x] [1] [ERROR] Worker (pid:79) exited with code 3.'), { kind: 'exited', pid: 79, code: 3 });
    assert.deepStrictEqual(parseWorkerLogFact('INFO:     Child process [80] died'), { kind: 'died', pid: 80 });
    assert.strictEqual(parseWorkerLogFact('GET / 200'), undefined);
  });

  it('reads Granian\'s and Hypercorn\'s announcements of a worker', () => {
    assert.deepStrictEqual(parseWorkerLogFact('[INFO] Spawning worker-2 with PID: 4704'), { kind: 'spawned', pid: 4704 });
    assert.deepStrictEqual(parseWorkerLogFact('[2026-11-30 05:31:43 +0000] [4894] [INFO] Running on http://127.0.0.1:18602 (CTRL + C to quit)'), { kind: 'started', pid: 4894 });
    assert.strictEqual(parseWorkerLogFact('[INFO] Respawning worker-2'), undefined);
  });

  it('finds the writer pid in Gunicorn\'s (and Hypercorn\'s) log prefix; the master that announces a worker is not it', () => {
    assert.strictEqual(pidOfLogLine('[2026-11-24 19:51:57 +0000] [10327] [INFO] Started'), 10327);
    assert.strictEqual(pidOfLogLine('print from a handler'), undefined);
    assert.strictEqual(pidOfLogLine('[INFO] Spawning worker-1 with PID: 4701'), undefined, 'Granian\'s master writes it');
  });

  it('reads what Granian\'s master says about the worker in a position', () => {
    assert.deepStrictEqual(parsePositionFact('[INFO] Spawning worker-3 with PID: 812'), { kind: 'spawned', position: 3, pid: 812 });
    assert.deepStrictEqual(parsePositionFact('[INFO] Respawning worker-3'), { kind: 'respawning', position: 3 });
    assert.deepStrictEqual(parsePositionFact('[INFO] worker-1 RSS over threshold, gracefully respawning..'), { kind: 'overMemory', position: 1 });
    assert.deepStrictEqual(parsePositionFact('[INFO] worker-2 lifetime expired, gracefully respawning..'), { kind: 'lifetimeExpired', position: 2 });
    assert.strictEqual(parsePositionFact('[INFO] Stopping old worker-3'), undefined);
    assert.strictEqual(parsePositionFact('[INFO] Started worker-3'), undefined);
  });

  it('finds the app frame of a traceback, skipping library frames', () => {
    const traceback = [
      'Traceback (most recent call last):',
      '  File "/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line 608, in spawn_worker',
      '  File "/work/app/main.py", line 12, in <module>',
      '  File "<frozen importlib._bootstrap>", line 1, in _call_with_frames_removed',
      'ModuleNotFoundError: No module named \'nope\'',
    ];
    assert.deepStrictEqual(tracebackLocation(traceback), { file: '/work/app/main.py', line: 12 });
  });
});
