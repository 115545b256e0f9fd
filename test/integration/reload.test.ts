/**
 * Reload on save against real servers, through the CLI (--reload --json: its watcher, its debounce, its events) with a
 * load loop running throughout: every answer 200, no reset connection; a broken save keeps the old code serving.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isAlive } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { pidsIn, run, type Run } from './cliSupport';
import { LoadLoop } from './loadLoop';
import { reloadAppFolder, writeBrokenVersion, writeVersion } from './reloadSupport';
import { freePort, get } from './support';

const SAVES = 10;
/** From a save to its `reloaded` event, on a shared 2-core machine under load. */
const RELOAD_BOUND_MS = 20000;

const kinds: Array<[string, string[]]> = [
  ['gunicorn + UvicornWorker', ['--app', 'reload_asgi:app']],
  ['gunicorn sync (Flask)', ['--app', 'reload_flask:app', '--worker-class', 'sync']],
  ['uvicorn --workers', ['--server', 'uvicorn', '--app', 'reload_asgi:app']],
];

async function startWithReload(args: string[]): Promise<{ r: Run; port: number; folder: string }> {
  const folder = reloadAppFolder();
  const port = await freePort();
  const r = run(['run', ...args, '--workers', '3', '--bind', `127.0.0.1:${port}`, '--cwd', folder, '--python', testPython, '--graceful-timeout', '5', '--reload', '--json'], folder);
  await r.next((e) => e.event === 'started', 'started', 60000);
  await r.next((e) => e.event === 'watching', 'watching');
  return { r, port, folder };
}

async function stopCli(r: Run): Promise<void> {
  r.child.stdin!.end();
  await r.next((e) => e.event === 'stopped', 'stopped', 30000);
  assert.strictEqual(await r.exit, 0);
  const survivors = pidsIn(r.events).filter(isAlive);
  assert.deepStrictEqual(survivors, [], 'no process of the server survives');
}

/** Every one of `count` answers in a row carries `text`. */
async function allAnswer(port: number, text: string, count = 30): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { status, body } = await get(port, '/');
    assert.strictEqual(status, 200);
    assert.strictEqual(body.text, text, `answer ${i + 1} of ${count} after the reload`);
  }
}

function describeFailures(failures: Array<{ at: number; what: string }>): string {
  return failures.slice(0, 10).map((f) => `${new Date(f.at).toISOString()} ${f.what}`).join('; ');
}

for (const [title, args] of kinds) {
  describe(`reload on save: ${title}, 3 workers`, { timeout: 300000 }, () => {
    it(`${SAVES} saves under load: every answer 200, none reset; each time every worker answers the new text; a syntax error keeps the old text serving`, async () => {
      const { r, port, folder } = await startWithReload(args);
      const load = new LoadLoop(port);
      try {
        let generation = 1;
        for (let save = 1; save <= SAVES; save++) {
          const text = `v${save}`;
          const savedAt = Date.now();
          const file = writeVersion(folder, text);
          const started = await r.next((e) => e.event === 'reload-started', `reload ${save} to start`, RELOAD_BOUND_MS);
          assert.deepStrictEqual(started.files, [file]);
          const reloaded = await r.next((e) => e.event === 'reloaded' || e.event === 'reload-failed', `reload ${save}`, RELOAD_BOUND_MS);
          assert.strictEqual(reloaded.event, 'reloaded', JSON.stringify(reloaded));
          assert.ok((reloaded.generation as number) > generation, 'a new generation');
          generation = reloaded.generation as number;
          assert.ok(Date.now() - savedAt < RELOAD_BOUND_MS);
          await allAnswer(port, text);
        }

        // A syntax error: the old text keeps being served, with no failure, for 10 s.
        const brokenFile = writeBrokenVersion(folder);
        const failed = await r.next((e) => e.event === 'reload-failed' || e.event === 'reloaded', 'the broken save\'s reload', RELOAD_BOUND_MS);
        assert.strictEqual(failed.event, 'reload-failed');
        assert.strictEqual(failed.file, brokenFile);
        assert.strictEqual(failed.line, 1);
        assert.match(String(failed.message), /SyntaxError/);
        assert.strictEqual((failed.serving as { generation: number }).generation, generation, 'the last good generation serves');
        const brokenAt = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 10000));
        const during = load.since(brokenAt);
        assert.ok(during.length > 20, `requests were answered while the code was broken (${during.length})`);
        assert.deepStrictEqual([...new Set(during.map((a) => a.text))], [`v${SAVES}`], 'the old text, all along');

        // Fixed: the next save reloads as usual.
        writeVersion(folder, 'fixed');
        const fixed = await r.next((e) => e.event === 'reloaded' || e.event === 'reload-failed', 'the fixed save\'s reload', RELOAD_BOUND_MS);
        assert.strictEqual(fixed.event, 'reloaded', JSON.stringify(fixed));
        await allAnswer(port, 'fixed');
      } finally {
        const { answers, failures } = await load.stop();
        assert.deepStrictEqual(failures.length, 0, `no request failed (of ${answers + failures.length}): ${describeFailures(failures)}`);
        assert.ok(answers > 100, `the load loop ran (${answers} answers)`);
      }
      await stopCli(r);
    });
  });
}

describe('reload on save: what does not import, or fails in its startup', { timeout: 180000 }, () => {
  it('gunicorn + UvicornWorker: an exception in the ASGI lifespan startup, then an import error, keep the old text serving; a burst of saves is one reload', async () => {
    const { r, port, folder } = await startWithReload(['--app', 'reload_asgi:app']);
    const load = new LoadLoop(port);
    try {
      const versionFile = writeVersion(folder, 'v1', 'raise RuntimeError("the database is down")');
      const lifespan = await r.next((e) => e.event === 'reload-failed' || e.event === 'reloaded', 'the lifespan failure', RELOAD_BOUND_MS);
      assert.strictEqual(lifespan.event, 'reload-failed');
      assert.deepStrictEqual([lifespan.file, lifespan.line, lifespan.message], [versionFile, 5, 'RuntimeError: the database is down']);

      fs.writeFileSync(path.join(folder, 'reload_asgi.py'), `import no_such_module_for_the_reload_test\n${fs.readFileSync(path.join(folder, 'reload_asgi.py'), 'utf8')}`);
      const imported = await r.next((e) => e.event === 'reload-failed' || e.event === 'reloaded', 'the import error', RELOAD_BOUND_MS);
      assert.strictEqual(imported.event, 'reload-failed');
      assert.deepStrictEqual([imported.file, imported.line], [path.join(folder, 'reload_asgi.py'), 1]);
      assert.match(String(imported.message), /ModuleNotFoundError: No module named 'no_such_module_for_the_reload_test'/);
      assert.strictEqual((await get(port, '/')).body.text, 'v0');

      // Like a git checkout: several files written within a moment are one reload.
      const app = fs.readFileSync(path.join(folder, 'reload_asgi.py'), 'utf8').split('\n').slice(1).join('\n');
      fs.writeFileSync(path.join(folder, 'reload_asgi.py'), app);
      writeVersion(folder, 'v2');
      fs.writeFileSync(path.join(folder, 'extra.py'), 'X = 1\n');
      fs.writeFileSync(path.join(folder, 'notes.txt'), 'not watched\n');
      const started = await r.next((e) => e.event === 'reload-started', 'one reload', RELOAD_BOUND_MS);
      assert.deepStrictEqual(started.files, ['extra.py', 'reload_asgi.py', 'version.py'].map((name) => path.join(folder, name)));
      assert.strictEqual((await r.next((e) => e.event === 'reloaded' || e.event === 'reload-failed', 'the reload', RELOAD_BOUND_MS)).event, 'reloaded');
      await allAnswer(port, 'v2');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.strictEqual(r.events.filter((e) => e.event === 'reload-started').length, 3, 'no second reload for the burst');
    } finally {
      const { failures } = await load.stop();
      assert.deepStrictEqual(failures.length, 0, `no request failed: ${describeFailures(failures)}`);
    }
    await stopCli(r);
  });
});
