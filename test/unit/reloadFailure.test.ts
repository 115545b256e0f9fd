/** What a refused reload says (bootFailure.ts, importCheck.ts's outcomeOf), and what the supervisor keeps of a flood (RecentLines). */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { resolveDefinition } from '../../src/core/definition';
import { RecentLines } from '../../src/core/output/bootTails';
import { bootFailureFrom, hangLocation } from '../../src/core/reload/bootFailure';
import { outcomeOf } from '../../src/core/reload/importCheck';

const definition = resolveDefinition({ app: 'main:app', cwd: '/app' }, { defaultPython: 'python3', defaultCwd: '/app', defaultWorkers: 2 });

describe('bootFailureFrom: the user\'s file, never the agent\'s', () => {
  const agentFrame = '  File "/ext/python/server_workers_agent/patches.py", line 26, in load_wsgi';
  it('points at the app\'s import of a deleted module, past the agent\'s wrappers; the details leave the agent\'s frames out', () => {
    const failure = bootFailureFrom([
      'Traceback (most recent call last):',
      '  File "/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line 752, in spawn_worker',
      '    worker.init_process()',
      agentFrame,
      '    result = original(self, *args, **kwargs)',
      '             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^',
      '  File "/app/main.py", line 3, in <module>',
      '    import settings',
      "ModuleNotFoundError: No module named 'settings'",
    ], '/app', 'main:app');
    assert.deepStrictEqual([failure.file, failure.line, failure.message], ['/app/main.py', 3, "ModuleNotFoundError: No module named 'settings'"]);
    assert.ok(!failure.details.includes('server_workers_agent'), failure.details);
    assert.ok(failure.details.includes('worker.init_process()') && failure.details.includes('import settings'));
  });

  it('says that the app\'s own module is gone (renamed or deleted), with no location in the agent', () => {
    const failure = bootFailureFrom(['Traceback (most recent call last):', agentFrame, '    x', "ModuleNotFoundError: No module named 'main'"], '/app', 'main:app');
    assert.strictEqual(failure.file, undefined);
    assert.strictEqual(failure.message, "ModuleNotFoundError: No module named 'main' (the app's module main is not in /app: was it renamed or deleted? \"app\" names main:app)");
    const parent = bootFailureFrom(["ModuleNotFoundError: No module named 'pkg'"], '/app', 'pkg.web:app');
    assert.match(parent.message, /the app's module pkg\.web is not in \/app/);
  });

  it('finds where a hung process waits in faulthandler\'s dump (most recent call first), past the agent and the libraries', () => {
    const dump = [
      'Timeout (0:00:09.500000)!',
      'Thread 0x00007f5a6fbfbb80 (most recent call first):',
      '  File "/usr/lib/python3.11/socket.py", line 836 in create_connection',
      '  File "/app/db.py", line 7 in connect',
      '  File "/app/main.py", line 2 in <module>',
      '  File "<frozen importlib._bootstrap>", line 241 in _call_with_frames_removed',
      '  File "/ext/python/server_workers_agent/import_probe.py", line 118 in _import_and_say',
    ];
    assert.deepStrictEqual(hangLocation(dump, '/app'), { file: '/app/db.py', line: 7 });
    assert.strictEqual(hangLocation(['  File "/ext/python/server_workers_agent/import_probe.py", line 118 in x'], '/app'), undefined);
  });
});

describe('the import check\'s report: only an import that completed passes', () => {
  it('passes on the importer\'s own word, and says which breakpoint() calls it skipped', () => {
    assert.deepStrictEqual(outcomeOf({ ok: true, breakpoints: [] }, definition, 60), { ok: true });
    assert.deepStrictEqual(outcomeOf({ ok: true, breakpoints: ['/app/main.py:4'] }, definition, 60), { ok: true, skippedBreakpoints: ['/app/main.py:4'] });
  });

  it('fails an exit whatever its code, a signal, a hang and a probe that gave nothing, each saying which', () => {
    const message = (report: Record<string, unknown>) => {
      const outcome = outcomeOf(report, definition, 60);
      assert.strictEqual(outcome.ok, false);
      return outcome.ok ? '' : outcome.failure.message;
    };
    assert.strictEqual(message({ ok: false, exit: 'exited with code 0', output: '' }), 'importing main:app exited with code 0 before it finished');
    assert.strictEqual(message({ ok: false, exit: 'exited with code 2', output: 'starting\nno DATABASE_URL\n' }), 'importing main:app exited with code 2 before it finished: no DATABASE_URL');
    assert.strictEqual(message({ ok: false, exit: 'was killed by SIGKILL', output: '' }), 'importing main:app was killed by SIGKILL before it finished');
    assert.strictEqual(message({ ok: false, timedOut: true, output: 'Thread 0x1 (most recent call first):\n  File "/app/main.py", line 9 in <module>\n' }), 'importing main:app did not finish within 60 s (waiting at main.py:9); it was stopped');
    assert.strictEqual(message({ ok: false, traceback: 'Traceback (most recent call last):\n  File "/app/main.py", line 1, in <module>\nSystemExit: DATABASE_URL is not set' }), 'SystemExit: DATABASE_URL is not set');
    assert.strictEqual(message({ ok: false, probeFailed: 'the import check (python import_probe.py) exited with code 1' }), 'the import check (python import_probe.py) exited with code 1');
    assert.strictEqual(message({}), 'the import check of main:app gave no result');
  });
});

describe('RecentLines: a bounded tail of what a booting worker printed', () => {
  it('keeps the newest lines within its line count and character budget, and the start of a long line', () => {
    const tail = new RecentLines(3, 100, 10);
    tail.push(['a', 'b', 'c', 'd']);
    assert.deepStrictEqual(tail.lines(), ['b', 'c', 'd']);
    tail.push(['x'.repeat(50)]);
    assert.deepStrictEqual(tail.lines(), ['c', 'd', 'xxxxxxxxxx… (50 characters)']);
    const budget = new RecentLines(100, 25);
    for (let i = 0; i < 10; i++) budget.push([`line ${i}`]);
    assert.deepStrictEqual(budget.lines(), ['line 6', 'line 7', 'line 8', 'line 9']); // 24 characters of 25
  });
});

describe('reloadTimeout', () => {
  it('is a whole number of seconds from 1; unset, the supervisor\'s (the setting)', () => {
    const context = { defaultPython: 'python3', defaultCwd: '/app', defaultWorkers: 2 };
    assert.strictEqual(resolveDefinition({ app: 'main:app', reloadTimeout: 120 }, context).reloadTimeout, 120);
    assert.strictEqual(resolveDefinition({ app: 'main:app' }, context).reloadTimeout, undefined);
    assert.throws(() => resolveDefinition({ app: 'main:app', reloadTimeout: 0 }, context), /"reloadTimeout" must be at least 1 second/);
    assert.throws(() => resolveDefinition({ app: 'main:app', reloadTimeout: 'long' }, context), /"reloadTimeout" must be a whole number of seconds/);
  });
});
