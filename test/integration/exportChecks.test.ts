/**
 * Export's files against the real checkers: systemd-analyze verify (Debian's systemd) on the units, hadolint on the
 * Dockerfiles, the Compose Specification's JSON schema on compose.yaml, kubernetes-validate (the oldest and newest
 * supported Kubernetes it ships) and kubectl's kustomize on the manifests; for each example task, and for projects
 * made here for what the examples do not have (a certificate, each kind of dependency file).
 */
import * as assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { type ExportFormat, exportFiles } from '../../src/export';
import { projectFacts } from '../../src/export/project';
import { resolveForExport } from '../../src/export/resolve';
import { planWrites, writePlanned } from '../../src/export/write';
import { repoRoot, testPython } from '../support/paths';
import { composeProblems, runExport, runTool, scratchIn } from './exportSupport';

const EXAMPLE_TASKS = [['fastapi', 'api'], ['flask', 'web'], ['django', 'site'], ['fastapi', 'api (uvicorn)'], ['fastapi', 'api (granian)'], ['fastapi', 'api (hypercorn)']] as const;

/** Kubernetes supports its three newest minor releases: the newest and the oldest of those that kubernetes-validate ships. */
function supportedKubernetes(): string[] {
  const found = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))'], { encoding: 'utf8' });
  const dirs = fs.readdirSync(path.join(found.stdout.trim(), 'kubernetes-json-schema')).map((d) => /^v1\.(\d+)\.0-local$/.exec(d)?.[1]).filter((m): m is string => m !== undefined).map(Number);
  const newest = Math.max(...dirs);
  assert.ok(dirs.includes(newest - 2), `kubernetes-validate ships 1.${newest - 2} too`);
  return [`1.${newest - 2}.0`, `1.${newest}.0`];
}

/** A project made for a case the examples do not show: main.py, its files, and a tasks.json with one task "app". */
function project(files: Record<string, string>, task: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-export-project-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'main.py'), 'from fastapi import FastAPI\napp = FastAPI()\n');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  fs.mkdirSync(path.join(dir, '.vscode'));
  fs.writeFileSync(path.join(dir, '.vscode', 'tasks.json'), JSON.stringify({ version: '2.0.0', tasks: [{ label: 'app', type: 'serverworkers', app: 'main:app', python: testPython, workers: 3, ...task }] }));
  return dir;
}

const PYPROJECT = '[project]\nname = "shop"\nversion = "1.0"\ndependencies = ["fastapi", "uvicorn-worker", "gunicorn"]\n';
const WITH_CERTIFICATE = { certfile: 'certs/cert.pem', keyfile: 'certs/key.pem', preLaunch: [['python', '-c', 'print("migrated")']], env: { API_TOKEN: 'tok-123-not-in-files', MODE: 'production' }, maxMemoryMb: 300 };

/**
 * Exports in this process, with the parts the CLI uses (its own answers are tested in exportErrors and
 * exportServers): one interpreter probe for all, instead of a CLI and a probe each. Returns the output folder.
 */
async function exported(cwd: string, args: string[]): Promise<string> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-export-out-'));
  after(() => fs.rmSync(out, { recursive: true, force: true }));
  const value = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const task = resolveForExport({ task: value('--task'), properties: {} }, cwd);
  const result = exportFiles(value('--format') as ExportFormat, {
    definition: task.definition, project: await projectFacts(task.definition, task.folder), kept: task.kept,
    options: { workersInContainer: args.includes('--workers-in-container'), healthPath: value('--health-path') ?? '/', outDir: out },
  });
  writePlanned(planWrites(out, result.files));
  return out;
}

const examplePath = (example: string) => path.join(repoRoot, 'examples', example);

describe('export --format systemd: systemd-analyze verify', { timeout: 120000 }, () => {
  for (const [example, task] of EXAMPLE_TASKS) {
    it(`${example}'s task "${task}": the unit verifies with no complaint`, () => {
      // In the project, as users would write it: ExecStart names the project's interpreter, which must exist.
      const out = scratchIn(examplePath(example));
      const run = runExport(['--task', task, '--format', 'systemd', '--out', out], examplePath(example));
      assert.strictEqual(run.code, 0, run.stderr);
      const unit = run.answer!.files[0];
      const verify = spawnSync('systemd-analyze', ['verify', unit.path], { encoding: 'utf8' });
      assert.strictEqual(`${verify.stdout}${verify.stderr}`.trim(), '', 'systemd-analyze says nothing');
      assert.strictEqual(verify.status, 0);
      const text = fs.readFileSync(unit.path, 'utf8');
      assert.match(text, /^KillMode=mixed$/m);
      assert.match(text, /^WantedBy=multi-user\.target$/m);
      assert.match(text, /^User=(?!root)\S+$/m);
    });
  }

  it('the unit of a task with a certificate, preLaunch, a secret and a memory limit verifies, without the secret', async () => {
    const dir = project({ 'certs/cert.pem': 'x', 'certs/key.pem': 'x', 'requirements.txt': 'fastapi\n' }, WITH_CERTIFICATE);
    const out = await exported(dir, ['--task', 'app', '--format', 'systemd']);
    const unit = path.join(out, 'app.service');
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.strictEqual(`${verify.stdout}${verify.stderr}`.trim(), '');
    const text = fs.readFileSync(unit, 'utf8');
    assert.ok(!text.includes('tok-123-not-in-files'));
    assert.match(text, /^ExecStartPre=\S+python -c "print\(\\"migrated\\"\)"$/m);
    assert.match(text, /^MemoryMax=1200M$/m, '(3 workers + the master) x 300 MiB');
    assert.match(text, /^StartLimitBurst=4$/m);
    assert.match(text, /^EnvironmentFile=\/etc\/app\/app\.env$/m);
  });
});

describe('export --format container: hadolint', { timeout: 180000 }, () => {
  const lint = (dockerfile: string) => {
    const result = runTool('hadolint', [dockerfile]);
    assert.strictEqual(result.output, '', `hadolint has no warning for ${dockerfile}`);
    assert.strictEqual(result.code, 0);
  };
  for (const [example, task] of EXAMPLE_TASKS) {
    it(`${example}'s task "${task}": one process per container, and with --workers-in-container`, async () => {
      for (const extra of [[], ['--workers-in-container']]) {
        const out = await exported(examplePath(example), ['--task', task, '--format', 'container', ...extra]);
        lint(path.join(out, 'Dockerfile'));
        const docker = fs.readFileSync(path.join(out, 'Dockerfile'), 'utf8');
        assert.match(docker, /^FROM python:3\.\d+-slim$/m);
        assert.match(docker, /^USER 10001:10001$/m);
        assert.match(docker, /^HEALTHCHECK /m);
        assert.ok(fs.existsSync(path.join(out, 'Dockerfile.dockerignore')), 'the ignore file beside a Dockerfile outside the build context');
      }
    });
  }

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['uv.lock', { 'pyproject.toml': PYPROJECT, 'uv.lock': 'version = 1\n' }, /uv export --frozen/],
    ['poetry.lock', { 'pyproject.toml': PYPROJECT, 'poetry.lock': '# lock\n' }, /poetry install .*--only main/],
    ['pyproject.toml without a lock', { 'pyproject.toml': PYPROJECT }, /pip install --no-cache-dir \.\//],
    ['no dependency file', {}, /pip install --no-cache-dir uvicorn==[\d.]+$/m],
  ];
  for (const [what, files, install] of cases) {
    it(`a project with ${what}: its dependencies installed from it, and no warning`, async () => {
      const dir = project(files, {});
      const out = await exported(dir, ['--task', 'app', '--format', 'container']);
      lint(path.join(out, 'Dockerfile'));
      assert.match(fs.readFileSync(path.join(out, 'Dockerfile'), 'utf8'), install);
    });
  }
});

describe('export --format compose: the Compose Specification\'s schema', { timeout: 120000 }, () => {
  for (const [example, task] of EXAMPLE_TASKS) {
    it(`${example}'s task "${task}": compose.yaml is valid, with replicas or with the workers in one container`, async () => {
      for (const extra of [[], ['--workers-in-container']]) {
        const out = await exported(examplePath(example), ['--task', task, '--format', 'compose', ...extra]);
        const text = fs.readFileSync(path.join(out, 'compose.yaml'), 'utf8');
        assert.deepStrictEqual(composeProblems(text), []);
      }
    });
  }

  it('a task with a certificate, preLaunch and a secret: secrets, one-off services the app waits for, a reference', async () => {
    const dir = project({ 'certs/cert.pem': 'x', 'certs/key.pem': 'x', 'requirements.txt': 'fastapi\nuvicorn-worker\ngunicorn\n' }, WITH_CERTIFICATE);
    const out = await exported(dir, ['--task', 'app', '--format', 'compose']);
    const text = fs.readFileSync(path.join(out, 'compose.yaml'), 'utf8');
    assert.deepStrictEqual(composeProblems(text), []);
    assert.ok(!text.includes('tok-123-not-in-files'));
    assert.match(text, /API_TOKEN: "\$\{API_TOKEN:\?/);
    assert.match(text, /condition: service_completed_successfully/);
    assert.match(text, /tls_cert:\n\s+file: \S+certs\/cert\.pem/);
    // A schema accepts what it is given: it must also be able to refuse.
    assert.notDeepStrictEqual(composeProblems(text.replace('replicas: 3', 'replicas: three')), []);
  });
});

describe('export --format kubernetes: kubernetes-validate and kustomize', { timeout: 240000 }, () => {
  const versions = supportedKubernetes();
  const validate = (out: string, files: string[]) => {
    for (const version of versions) {
      const result = runTool('kubernetes-validate', ['--strict', '--no-warn', '-k', version, ...files], out);
      assert.strictEqual(result.code, 0, `Kubernetes ${version}: ${result.output}`);
      assert.strictEqual(result.output.split('\n').filter((l) => l.includes(' passed ')).length, files.length, result.output);
    }
  };
  /** kubectl's kustomize builds the kustomization: every resource it lists, each once. */
  const build = (out: string) => {
    const kustomization = fs.readFileSync(path.join(out, 'kustomization.yaml'), 'utf8');
    const listed = (parseAllDocuments(kustomization)[0].toJS() as { resources: string[] }).resources;
    const result = runTool('kubectl', ['kustomize', out]);
    assert.strictEqual(result.code, 0, result.output);
    const kinds = parseAllDocuments(result.output).map((d) => (d.toJS() as { kind: string }).kind).sort();
    const expected = listed.map((file) => (parseAllDocuments(fs.readFileSync(path.join(out, file), 'utf8'))[0].toJS() as { kind: string }).kind).sort();
    assert.deepStrictEqual(kinds, expected);
    return listed;
  };
  for (const [example, task] of EXAMPLE_TASKS) {
    it(`${example}'s task "${task}": valid for Kubernetes ${versions.join(' and ')}, and kustomize builds it`, async () => {
      const out = await exported(examplePath(example), ['--task', task, '--format', 'kubernetes']);
      const listed = build(out);
      validate(out, listed);
      assert.strictEqual(listed.includes('job-prelaunch.yaml'), example === 'django', 'a Job for preLaunch, only when the task has it');
    });
  }

  it('a task with a certificate: an Ingress with its TLS secret; the commented HPA is valid once uncommented', async () => {
    const dir = project({ 'certs/cert.pem': 'x', 'certs/key.pem': 'x', 'requirements.txt': 'fastapi\nuvicorn-worker\ngunicorn\n' }, WITH_CERTIFICATE);
    const out = await exported(dir, ['--task', 'app', '--format', 'kubernetes', '--health-path', '/healthz']);
    const listed = build(out);
    assert.ok(listed.includes('ingress.yaml'));
    validate(out, listed);
    const all = listed.map((f) => fs.readFileSync(path.join(out, f), 'utf8')).join('\n');
    assert.ok(!all.includes('tok-123-not-in-files'));
    assert.match(all, /secretName: app-tls/);
    assert.match(all, /path: \/healthz/);
    const hpa = fs.readFileSync(path.join(out, 'hpa.yaml'), 'utf8');
    assert.ok(hpa.split('\n').every((line) => line === '' || line.startsWith('#')), 'hpa.yaml is all comments');
    // As its header says: the lines after it (the first blank line), without their leading "# ".
    const body = hpa.slice(hpa.indexOf('\n\n') + 2);
    fs.writeFileSync(path.join(out, 'hpa-on.yaml'), body.split('\n').map((l) => l.replace(/^# ?/, '')).join('\n'));
    validate(out, ['hpa-on.yaml']);
  });
});
