/**
 * What export decides about values: which env values are secrets, where a path lies, and how a value is quoted for
 * the language of the file it goes in (read back by that language itself: sh, Python).
 */
import * as assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { looksSecret, placeOf } from '../../src/export/analysis';
import { pyString, shellCommand, shellWord } from '../../src/export/quoting';

const AWKWARD = ['plain', 'two words', "it's", 'a"b', 'back\\slash', '$HOME and `date`', 'new\nline', 'ünïcödé ✓', '', '-n', '*', '100%'];

describe('export: secrets', () => {
  it('by name, by a URL with a password, by a known token; not plain settings', () => {
    for (const [key, value] of [['SECRET_KEY', 'x'], ['DB_PASSWORD', 'x'], ['GITHUB_TOKEN', 'x'], ['STRIPE_API_KEY', 'x'], ['SENTRY_DSN', 'x'], ['AWS_SECRET_ACCESS_KEY', 'x'],
      ['DATABASE_URL', 'postgres://shop:hunter2@db/shop'], ['UPSTREAM', 'sk_live_abc123'], ['CERT', '-----BEGIN RSA PRIVATE KEY-----']]) {
      assert.ok(looksSecret(key, value), `${key}=${value} is a secret`);
    }
    for (const [key, value] of [['LOG_LEVEL', 'info'], ['DATABASE_URL', 'postgres://db/shop'], ['DJANGO_SETTINGS_MODULE', 'mysite.settings'], ['WORKERS', '4'], ['PASSENGER', 'x']]) {
      assert.ok(!looksSecret(key, value), `${key}=${value} is not a secret`);
    }
  });
});

describe('export: paths', () => {
  it('inside the project (relative, / separated) or outside it, lexically', () => {
    assert.deepStrictEqual(placeOf('/srv/shop/certs/cert.pem', '/srv/shop'), { inside: true, relative: 'certs/cert.pem' });
    assert.deepStrictEqual(placeOf('/srv/shop', '/srv/shop'), { inside: true, relative: '.' });
    assert.deepStrictEqual(placeOf('/srv/shopping/x', '/srv/shop'), { inside: false, absolute: '/srv/shopping/x' });
    assert.deepStrictEqual(placeOf('/etc/ssl/key.pem', '/srv/shop'), { inside: false, absolute: '/etc/ssl/key.pem' });
  });
});

describe('export: quoting', () => {
  it('a shell word reads back as the value in sh', () => {
    for (const value of AWKWARD) {
      const result = spawnSync('sh', ['-c', `printf '%s' ${shellWord(value)}`], { encoding: 'utf8' });
      assert.strictEqual(result.stdout, value, `sh reads ${shellWord(value)} as ${JSON.stringify(value)}`);
    }
    const args = spawnSync('sh', ['-c', `for a in ${shellCommand(AWKWARD)}; do printf '%s\\0' "$a"; done`], { encoding: 'utf8' });
    assert.deepStrictEqual(args.stdout.split('\0').slice(0, -1), AWKWARD, 'a command is one word per value');
  });

  it('a Python string literal reads back as the value in Python', () => {
    const source = `[${AWKWARD.map(pyString).join(', ')}]`;
    const result = spawnSync('python3', ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))'], { input: source, encoding: 'utf8' });
    assert.strictEqual(result.status, 0, result.stderr);
    assert.deepStrictEqual(JSON.parse(result.stdout), AWKWARD);
  });
});
