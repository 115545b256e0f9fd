import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { parseWorkerLogFact, pidOfLogLine, tracebackLocation } from '../../src/core/logPatterns';

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

  it('finds the writer pid in Gunicorn\'s log prefix', () => {
    assert.strictEqual(pidOfLogLine('[2026-11-24 19:51:57 +0000] [10327] [INFO] Started'), 10327);
    assert.strictEqual(pidOfLogLine('print from a handler'), undefined);
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
