import * as assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths';

describe('localization', () => {
  it('the English bundle l10n/bundle.l10n.json holds exactly the strings that src/ passes to vscode.l10n.t (npm run l10n)', () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-l10n-'));
    try {
      const cli = path.join(repoRoot, 'node_modules', '@vscode', 'l10n-dev', 'dist', 'cli.js');
      const result = spawnSync(process.execPath, [cli, 'export', '--outDir', outDir, path.join(repoRoot, 'src')], { encoding: 'utf8' });
      assert.strictEqual(result.status, 0, result.stderr);
      const fresh = JSON.parse(fs.readFileSync(path.join(outDir, 'bundle.l10n.json'), 'utf8')) as Record<string, string>;
      const committed = JSON.parse(fs.readFileSync(path.join(repoRoot, 'l10n', 'bundle.l10n.json'), 'utf8')) as Record<string, string>;
      assert.ok(Object.keys(fresh).length > 50, 'the extension localizes its messages');
      assert.deepStrictEqual(Object.keys(committed).sort(), Object.keys(fresh).sort(), 'run `npm run l10n` to update the bundle');
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('the manifest names every user-visible string through package.nls.json', () => {
    const manifest = fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8');
    const nls = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.nls.json'), 'utf8')) as Record<string, string>;
    const keys = [...manifest.matchAll(/"%([^"%]+)%"/g)].map((m) => m[1]);
    assert.ok(keys.length > 20, 'commands, views and settings use %keys%');
    assert.deepStrictEqual(keys.filter((key) => !(key in nls)), [], 'every %key% of package.json is in package.nls.json');
  });
});
