/**
 * Export's answers to bad input, through the CLI: a variable only VS Code can ask for, a secret in env, a project
 * without a dependency file, a file that exists. Each is said in the files and in the answer, and nothing is lost.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { EXPORT_FORMATS } from '../../src/export';
import { testPython } from '../support/paths';
import { runExport } from './exportSupport';

function project(task: Record<string, unknown>, files: Record<string, string> = { 'requirements.txt': 'fastapi\ngunicorn\nuvicorn-worker\n' }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-export-bad-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'main.py'), 'from fastapi import FastAPI\napp = FastAPI()\n');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  fs.mkdirSync(path.join(dir, '.vscode'));
  fs.writeFileSync(path.join(dir, '.vscode', 'tasks.json'), JSON.stringify({ version: '2.0.0', tasks: [{ label: 'app', type: 'serverworkers', app: 'main:app', python: testPython, workers: 2, ...task }] }));
  return dir;
}

const allText = (files: Array<{ text?: string }>) => files.map((f) => f.text ?? '').join('\n');

describe('export: bad input gets the answer described', { timeout: 120000 }, () => {
  it('${input:...} where no reference can stand for it: a clear error, and nothing written', () => {
    const dir = project({ args: ['--log-level', '${input:logLevel}'] });
    const out = path.join(dir, 'deploy');
    const run = runExport(['--task', 'app', '--format', 'gunicorn', '--out', out], dir);
    assert.strictEqual(run.code, 2);
    assert.match(run.stderr, /The task "app" cannot be exported as it is: "args\[1\]" uses \$\{input:logLevel\}, which only VS Code can ask for/);
    assert.match(run.stderr, /Write the value in the task, or give it with the flag/);
    assert.ok(!fs.existsSync(out), 'nothing was written');
  });

  it('${input:...} and ${env:...} in env: exported as references, said in every format\'s files and in the answer', () => {
    const dir = project({ env: { DATABASE_URL: '${input:databaseUrl}', REGION: '${env:DEPLOY_REGION}', MODE: 'production' } });
    for (const format of EXPORT_FORMATS) {
      const run = runExport(['--task', 'app', '--format', format, '--dry-run'], dir, { ...process.env, DEPLOY_REGION: 'eu-west-here' });
      assert.strictEqual(run.code, 0, `${format}: ${run.stderr}`);
      const text = allText(run.answer!.files);
      const settings = text.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
      assert.ok(!settings.includes('${input:'), `${format}: no \${input:...} left in the files' settings (only in their comments)`);
      assert.ok(!text.includes('eu-west-here'), `${format}: the exporter's own environment is not copied`);
      assert.match(text, /production/, `${format}: a plain value is copied`);
      const properties = run.answer!.caveats.map((c) => c.property);
      assert.ok(properties.includes('env.DATABASE_URL') && properties.includes('env.REGION'), `${format}: ${JSON.stringify(run.answer!.caveats)}`);
      assert.match(text, /env\.DATABASE_URL: uses \$\{input:databaseUrl\}, which only VS Code can ask for/, `${format}: said in the file`);
      assert.match(text, /env\.REGION: takes \$\{env:DEPLOY_REGION\} from the environment where the task runs/);
    }
  });

  it('a secret in env: referenced in every format, its value in no file, said in the files and in the answer', () => {
    const secret = 'postgres://shop:hunter2-very-secret@db/shop';
    const dir = project({ env: { DATABASE_URL: secret, DJANGO_SECRET_KEY: 'k-very-secret', LOG_LEVEL: 'info' } });
    for (const format of EXPORT_FORMATS) {
      const run = runExport(['--task', 'app', '--format', format, '--dry-run'], dir);
      assert.strictEqual(run.code, 0, run.stderr);
      const text = allText(run.answer!.files);
      assert.ok(!text.includes('hunter2') && !text.includes('k-very-secret'), `${format}: no secret value in the files`);
      assert.match(text, /info/, `${format}: the plain value is there`);
      for (const key of ['DATABASE_URL', 'DJANGO_SECRET_KEY']) {
        assert.ok(run.answer!.caveats.some((c) => c.property === `env.${key}` && /looks like a secret/.test(c.message)), `${format}: ${key} in the answer`);
        assert.match(text, new RegExp(`env\\.${key}: looks like a secret`), `${format}: ${key} said in the file`);
      }
    }
  });

  it('no dependency file: the image installs the server at the environment\'s version, and says what to add', () => {
    const dir = project({}, {});
    const run = runExport(['--task', 'app', '--format', 'container', '--dry-run', '--workers-in-container'], dir);
    assert.strictEqual(run.code, 0, run.stderr);
    const dockerfile = run.answer!.files.find((f) => f.name === 'Dockerfile')!.text!;
    assert.match(dockerfile, /RUN pip install --no-cache-dir gunicorn==\d[\d.]* uvicorn-worker==\d[\d.]*/);
    const messages = run.answer!.caveats.map((c) => `${c.property}: ${c.message}`).join('\n');
    assert.match(messages, /dependencies: the project has no requirements\.txt, pyproject\.toml, uv\.lock or poetry\.lock/);
    assert.match(messages, /the image installs gunicorn==\S+, the version in the task's environment/);
    assert.match(dockerfile, /# - dependencies: the project has no requirements\.txt/);
  });

  it('an existing file: not replaced without --force (exit 2, it names the file); --force replaces it; the same text is left alone', () => {
    const dir = project({});
    const out = path.join(dir, 'deploy');
    assert.strictEqual(runExport(['--task', 'app', '--format', 'gunicorn', '--out', out], dir).code, 0);
    const conf = path.join(out, 'gunicorn.conf.py');
    fs.writeFileSync(conf, '# my own edits\nworkers = 9\n');
    const refused = runExport(['--task', 'app', '--format', 'gunicorn', '--out', out], dir);
    assert.strictEqual(refused.code, 2);
    assert.strictEqual(refused.answer!.event, 'error');
    assert.match(refused.answer!.message!, new RegExp(`This file exists with other contents, so nothing was written: ${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\. Pass --force to replace them`));
    assert.strictEqual(fs.readFileSync(conf, 'utf8'), '# my own edits\nworkers = 9\n', 'the user\'s file is as it was');
    const forced = runExport(['--task', 'app', '--format', 'gunicorn', '--out', out, '--force'], dir);
    assert.strictEqual(forced.code, 0, forced.stderr);
    assert.deepStrictEqual(forced.answer!.files.map((f) => f.status), ['changed']);
    assert.match(fs.readFileSync(conf, 'utf8'), /^workers = 2 {2}# workers$/m);
    const again = runExport(['--task', 'app', '--format', 'gunicorn', '--out', out], dir);
    assert.strictEqual(again.code, 0);
    assert.deepStrictEqual(again.answer!.files.map((f) => f.status), ['unchanged']);
  });

  it('an invalid format or no --out: exit 2 with what to do', () => {
    const dir = project({});
    const bad = runExport(['--task', 'app', '--format', 'helm', '--out', dir], dir);
    assert.strictEqual(bad.code, 2);
    assert.match(bad.stderr, /--format must be gunicorn, systemd, container, compose, kubernetes \(got "helm"\)/);
    const noOut = runExport(['--task', 'app', '--format', 'systemd'], dir);
    assert.strictEqual(noOut.code, 2);
    assert.match(noOut.stderr, /--out DIR is required/);
  });
});
