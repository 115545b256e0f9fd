/**
 * The lazily loaded modules of the extension's bundle (scripts/lib/lazyBundle.mjs): a module the entry imports with
 * `await import()` is not in the entry's file and is not loaded with it; what both use exists once (a class is the
 * same class, a module's state the same state). The same source works compiled by tsc (out/), as the tests run it.
 */
import * as assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'lazyBundle');
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-lazy-bundle-'));
after(() => fs.rmSync(outdir, { recursive: true, force: true }));

interface Entry {
  entryToken(): object;
  lazyToken(): Promise<{ sameClass: boolean; marker: string; made: number }>;
}

/** Builds the fixture as the extension is built (in a Node process of its own: the build is an ES module). */
function buildFixture(): string {
  const outfile = path.join(outdir, 'entry.js');
  const script = `import { buildWithLazyModules } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'scripts', 'lib', 'lazyBundle.mjs')).href)};
const meta = await buildWithLazyModules({ entry: ${JSON.stringify(path.join(fixture, 'entry.ts'))}, outfile: ${JSON.stringify(outfile)}, platform: 'node', target: 'node20', minifyWhitespace: true, minifySyntax: true, logLevel: 'error' });
process.stdout.write(JSON.stringify(meta.atLoad));`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  return outfile;
}

const filesLoaded = () => Object.keys(require.cache).filter((file) => file.startsWith(outdir));

describe('lazily loaded modules in the bundle', () => {
  it('the entry\'s file holds what the load needs; a lazy module comes on first use, sharing one instance of the rest', async () => {
    const outfile = buildFixture();
    assert.ok(!fs.readFileSync(outfile, 'utf8').includes('heavy module code'), 'the lazy module is not in the entry\'s file');
    assert.ok(fs.readdirSync(path.join(outdir, 'lazy')).some((file) => file.endsWith('.js')), 'it has a file of its own');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle under test, loaded as VS Code loads it
    const entry = require(outfile) as Entry;
    assert.deepStrictEqual(filesLoaded(), [outfile], 'the load reads one file: the shared module is in it, the lazy one is not');
    entry.entryToken();
    const lazy = await entry.lazyToken();
    assert.ok(filesLoaded().some((file) => file.startsWith(path.join(outdir, 'lazy'))), 'the lazy module is loaded on first use');
    assert.strictEqual(lazy.marker, 'heavy module code');
    assert.strictEqual(lazy.sameClass, true, 'a class used by both files is one class');
    assert.strictEqual(lazy.made, 2, 'a module used by both files has one state');
  });

  it('the same source compiled by tsc', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the fixture as tsc compiled it (out/)
    const entry = require(path.join(repoRoot, 'out', 'test', 'fixtures', 'lazyBundle', 'entry.js')) as Entry;
    entry.entryToken();
    assert.deepStrictEqual(await entry.lazyToken(), { sameClass: true, marker: 'heavy module code', made: 2 });
  });
});
