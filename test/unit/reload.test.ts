import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { resolveDefinition, type ServerDefinition } from '../../src/core/definition';
import { bootFailureFrom } from '../../src/core/reload/bootFailure';
import { ChangeBatcher } from '../../src/core/reload/changeBatcher';
import { folderExcluded, globToRegExp, isWatched } from '../../src/core/reload/globs';
import { chooseReloadMethod, warmsMaster } from '../../src/core/reload/reloadMethod';
import { DEFAULT_EXCLUDE, DEFAULT_INCLUDE } from '../../src/core/reloadSettings';

const context = { defaultPython: 'python3', defaultCwd: '/app', defaultWorkers: 2 };

describe('reload globs', () => {
  it('match paths relative to the root: ** any folders, * one name, {a,b}, [...], a bare name anywhere', () => {
    const cases: Array<[string, string, boolean]> = [
      ['**/*.py', 'main.py', true],
      ['**/*.py', 'pkg/sub/views.py', true],
      ['**/*.py', 'main.pyc', false],
      ['*.py', 'pkg/a.py', true],
      ['src/*.py', 'src/a.py', true],
      ['src/*.py', 'src/pkg/a.py', false],
      ['templates/**', 'templates/a/b.html', true],
      ['**/*.{py,html}', 'x/y.html', true],
      ['**/[ab].py', 'b.py', true],
      ['**/[!ab].py', 'b.py', false],
      ['**/.venv*/**', '.venv-3.11/lib/x.py', true],
      ['**/__pycache__/**', 'pkg/__pycache__/a.cpython-311.pyc', true],
      ['a+b(c).py', 'a+b(c).py', true],
    ];
    for (const [glob, file, expected] of cases) assert.strictEqual(globToRegExp(glob).test(file), expected, `${glob} vs ${file}`);
  });

  it('watch Python files under the root, not virtualenvs, caches, .git or node_modules', () => {
    const watched = (file: string) => isWatched('/app', file, DEFAULT_INCLUDE, DEFAULT_EXCLUDE);
    assert.strictEqual(watched('/app/main.py'), true);
    assert.strictEqual(watched('/app/pkg/models.py'), true);
    assert.strictEqual(watched('/app/.venv/lib/python3.11/site-packages/flask/app.py'), false);
    assert.strictEqual(watched('/app/venv/lib/x.py'), false);
    assert.strictEqual(watched('/app/pkg/__pycache__/models.py'), false);
    assert.strictEqual(watched('/app/node_modules/x/y.py'), false);
    assert.strictEqual(watched('/app/.git/hooks/x.py'), false);
    assert.strictEqual(watched('/app/README.md'), false);
    assert.strictEqual(watched('/elsewhere/main.py'), false, 'outside the root');
    assert.strictEqual(folderExcluded('.venv', DEFAULT_EXCLUDE), true);
    assert.strictEqual(folderExcluded('pkg', DEFAULT_EXCLUDE), false);
  });
});

describe('ChangeBatcher', () => {
  it('turns a burst of changes into one reload with every watched file, once they stop', async () => {
    const flushed: string[][] = [];
    const batcher = new ChangeBatcher({ root: '/app', include: DEFAULT_INCLUDE, exclude: DEFAULT_EXCLUDE }, (files) => flushed.push(files), 40);
    for (const file of ['/app/b.py', '/app/a.py', '/app/b.py', '/app/notes.txt', '/app/.venv/x.py']) {
      batcher.changed(file);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepStrictEqual(flushed, [], 'nothing while changes keep coming');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.deepStrictEqual(flushed, [['/app/a.py', '/app/b.py']]);
    batcher.changed('/app/c.py');
    batcher.dispose();
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.strictEqual(flushed.length, 1, 'a disposed batcher reloads nothing');
  });
});

describe('the reload property', () => {
  it('is a boolean or include/exclude globs, with the defaults', () => {
    assert.deepStrictEqual(resolveDefinition({ app: 'main:app' }, context).reload, { onSave: undefined, include: [...DEFAULT_INCLUDE], exclude: [...DEFAULT_EXCLUDE] });
    assert.strictEqual(resolveDefinition({ app: 'main:app', reload: false }, context).reload.onSave, false);
    const globs = resolveDefinition({ app: 'main:app', reload: { include: ['**/*.py', 'templates/**'] } }, context).reload;
    assert.deepStrictEqual(globs, { onSave: true, include: ['**/*.py', 'templates/**'], exclude: [...DEFAULT_EXCLUDE] });
  });

  it('says what is wrong with it', () => {
    assert.throws(() => resolveDefinition({ app: 'main:app', reload: 'yes' }, context), /"reload" must be true, false or an object/);
    assert.throws(() => resolveDefinition({ app: 'main:app', reload: { include: '*.py' } }, context), /"reload.include" must be a list of globs/);
    assert.throws(() => resolveDefinition({ app: 'main:app', reload: { watch: [] } }, context), /"reload" takes "include" and "exclude"/);
  });
});

describe('bootFailureFrom', () => {
  it('finds the innermost app frame and the exception of a SyntaxError, even behind a logger prefix', () => {
    const lines = [
      '[2026-11-30 05:50:46 +0000] [12007] [ERROR] Exception in worker process',
      'Traceback (most recent call last):',
      '  File "/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line 752, in spawn_worker',
      '    worker.init_process()',
      '  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed',
      '  File "/app/version.py", line 3',
      '    TEXT = "v2',
      '           ^',
      'SyntaxError: unterminated string literal (detected at line 3)',
      'unterminated string literal (detected at line 3) (version.py, line 3)',
      '[2026-11-30 05:50:46 +0000] [12007] [INFO] Worker exiting (pid: 12007)',
    ];
    const failure = bootFailureFrom(lines, '/app');
    assert.strictEqual(failure.file, '/app/version.py');
    assert.strictEqual(failure.line, 3);
    assert.strictEqual(failure.message, 'SyntaxError: unterminated string literal (detected at line 3)');
    assert.match(failure.details, /^Traceback/);
    const logged = bootFailureFrom(['ERROR:    Traceback (most recent call last):', '  File "db.py", line 9, in connect', 'RuntimeError: no db', 'ERROR:    Application startup failed. Exiting.'], '/app');
    assert.deepStrictEqual([logged.file, logged.line, logged.message], ['/app/db.py', 9, 'RuntimeError: no db']);
  });
});

describe('chooseReloadMethod', () => {
  const capabilities = { scale: 'signal', reload: 'signal', respawnsWorkers: true, controlSocket: true } as const;
  it('swaps generations under Gunicorn, rolls under Uvicorn 0.30+, restarts (and says why) where neither can', () => {
    const gunicorn = resolveDefinition({ app: 'main:app' }, context);
    assert.deepStrictEqual(chooseReloadMethod(gunicorn, capabilities, { guarding: true, preload: false, rolling: false }), { method: 'swap' });
    assert.match(chooseReloadMethod(gunicorn, capabilities, { guarding: true, preload: true, rolling: false }).restartBecause!, /--preload/);
    assert.match(chooseReloadMethod(resolveDefinition({ app: 'main:app', args: ['--preload'] }, context), capabilities, undefined).restartBecause!, /--preload/);
    assert.match(chooseReloadMethod(gunicorn, capabilities, undefined).restartBecause!, /agent is off/);
    assert.match(chooseReloadMethod(gunicorn, { ...capabilities, controlSocket: false }, { guarding: true, preload: false, rolling: false }).restartBecause!, /control socket/);
    const uvicorn = resolveDefinition({ server: 'uvicorn', app: 'main:app', workers: 3 }, context);
    assert.deepStrictEqual(chooseReloadMethod(uvicorn, capabilities, { guarding: false, preload: false, rolling: true }), { method: 'rolling' });
    assert.match(chooseReloadMethod(uvicorn, capabilities, { guarding: false, preload: false, rolling: false }).restartBecause!, /before 0\.51/);
    assert.match(chooseReloadMethod(uvicorn, capabilities, undefined).restartBecause!, /agent is off/);
    assert.match(chooseReloadMethod(uvicorn, { ...capabilities, reload: 'restart' }, undefined).restartBecause!, /before 0\.30/);
  });

  it('warms the master where its next workers start from it: Gunicorn\'s swap, Uvicorn\'s, Hypercorn\'s and Granian\'s SIGHUP', () => {
    const warms = (definition: Partial<ServerDefinition>, preload = false) => {
      const resolved = resolveDefinition({ app: 'main:app', workers: 3, ...definition }, context);
      return warmsMaster(chooseReloadMethod(resolved, capabilities, { guarding: true, preload, rolling: true }), resolved);
    };
    assert.deepStrictEqual(
      [warms({}), warms({ server: 'uvicorn' }), warms({ server: 'hypercorn' }), warms({ server: 'granian' }), warms({}, true), warms({ server: 'uvicorn', workers: 1 })],
      [true, true, true, true, false, false],
    );
  });

  it('Granian and Hypercorn reload by their own SIGHUP, after an import check (they would not keep the old workers for broken code)', () => {
    const facts = { guarding: false, preload: false, rolling: false };
    const granian = resolveDefinition({ server: 'granian', app: 'main:app', workers: 2 }, context);
    assert.deepStrictEqual(chooseReloadMethod(granian, capabilities, facts), { method: 'rolling', importCheckFirst: true });
    const hypercorn = resolveDefinition({ server: 'hypercorn', app: 'main:app', workers: 2 }, context);
    const choice = chooseReloadMethod(hypercorn, capabilities, facts);
    assert.deepStrictEqual([choice.method, choice.importCheckFirst], ['signal', true]);
    assert.match(choice.caveat!, /stops every worker before it starts the new ones/);
    assert.match(chooseReloadMethod(hypercorn, { ...capabilities, reload: 'restart' }, facts).restartBecause!, /Hypercorn before 0\.18 takes no SIGHUP/);
    for (const definition of [granian, hypercorn]) assert.match(chooseReloadMethod(definition, capabilities, undefined).restartBecause!, /agent is off/);
  });
});
