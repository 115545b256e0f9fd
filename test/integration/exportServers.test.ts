/**
 * Export's server format against the real servers: for each example task, the exported gunicorn.conf.py (or
 * hypercorn.toml, or serve.sh) started as the export says runs what the task asks (workers, bind, worker class,
 * timeouts: checked in /proc and in the server's log), serves a request, and leaves nothing behind.
 */
import * as assert from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_GRACEFUL_TIMEOUT, type ServerDefinition } from '../../src/core/definition';
import { commandLine, listeningSockets } from '../../src/core/process/procfs';
import { readServerTasks } from '../../src/core/tasksFile';
import { repoRoot } from '../support/paths';
import { freePort } from '../support/ports';
import { runExport, scratchIn, startLine, startServer, type StartedServer, stopAndCheckServer, workerPids } from './exportSupport';
import { eventually, get } from './support';

interface ExampleTask {
  example: string;
  task: string;
  /** What the request path answers with the serving worker's pid. */
  pidPath: string;
}

const EXAMPLE_TASKS: ExampleTask[] = [
  { example: 'fastapi', task: 'api', pidPath: '/pid' },
  { example: 'flask', task: 'web', pidPath: '/pid' },
  { example: 'django', task: 'site', pidPath: '/' },
  { example: 'fastapi', task: 'api (uvicorn)', pidPath: '/pid' },
  { example: 'fastapi', task: 'api (granian)', pidPath: '/pid' },
  { example: 'fastapi', task: 'api (hypercorn)', pidPath: '/pid' },
];

function exampleTask(example: ExampleTask): { folder: string; definition: ServerDefinition } {
  const folder = path.join(repoRoot, 'examples', example.example);
  const task = readServerTasks(path.join(folder, '.vscode', 'tasks.json')).find((t) => t.label === example.task);
  assert.ok(task, `the example ${example.example} has the task "${example.task}"`);
  return { folder, definition: task.definition };
}

/** The Django example's secret, supplied where the server runs, as the exported file says (it is not in the file). */
const DJANGO_SECRET = 'test-only-secret-supplied-by-the-environment';

async function servedPid(port: number, pathname: string): Promise<number> {
  let answer: Awaited<ReturnType<typeof get>> | undefined;
  await eventually(`a ${pathname} answer on port ${port}`, () => {
    void get(port, pathname, 2000).then((a) => (answer ??= a), () => undefined);
    return answer !== undefined;
  }, 45000);
  assert.strictEqual(answer!.status, 200, JSON.stringify(answer!.body));
  return answer!.body.pid as number;
}

async function checkServes(server: StartedServer, port: number, pathname: string, workers: number): Promise<void> {
  const master = server.child.pid!;
  await eventually(`${workers} workers below ${master}`, () => workerPids(server, master).length === workers, 45000);
  const pid = await servedPid(port, pathname);
  const pids = workerPids(server, master);
  assert.ok(pids.includes(pid) || (workers === 1 && pid === master), `pid ${pid} that served is one of the workers ${pids.join(', ')}`);
  // (Granian's workers each listen on the port too: one socket each, all on the address bound.)
  assert.deepStrictEqual([...new Set(listeningSockets(port).map((s) => s.address))], ['127.0.0.1'], `port ${port} listens on 127.0.0.1 only, as bound`);
}

describe('export --format gunicorn: Gunicorn started with the exported gunicorn.conf.py', { timeout: 240000 }, () => {
  for (const example of EXAMPLE_TASKS.slice(0, 3)) {
    it(`${example.example}'s task "${example.task}": runs its workers, bind, worker class and timeouts, and serves`, async () => {
      const { folder, definition } = exampleTask(example);
      const port = await freePort();
      const out = scratchIn(folder);
      const dbPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sw-export-db-')), 'db.sqlite3');
      const extra = example.example === 'django' ? ['--env', `DJANGO_DB_PATH=${dbPath}`] : [];
      const exported = runExport(['--task', example.task, '--format', 'gunicorn', '--out', out, '--bind', `127.0.0.1:${port}`, ...extra], folder);
      assert.strictEqual(exported.code, 0, exported.stderr);
      const conf = fs.readFileSync(path.join(out, 'gunicorn.conf.py'), 'utf8');
      const env = example.example === 'django' ? { DJANGO_SECRET_KEY: DJANGO_SECRET } : {};
      if (example.example === 'django') {
        assert.ok(!conf.includes(String(definition.env?.DJANGO_SECRET_KEY)), 'the task\'s secret is not in the file');
        assert.match(conf, /env\.DJANGO_SECRET_KEY: looks like a secret/);
        // preLaunch: the steps the file names, run first as it says, in the task's folder.
        const steps = exported.answer!.next.filter((n) => n.startsWith('Run first: ')).map((n) => n.slice('Run first: '.length).split(' '));
        assert.strictEqual(steps.length, definition.preLaunch?.length);
        for (const step of steps) {
          const ran = spawnSync(path.join(folder, step[0]), step.slice(1), { cwd: folder, env: { ...process.env, ...env, DJANGO_DB_PATH: dbPath, DJANGO_SETTINGS_MODULE: 'mysite.settings' }, encoding: 'utf8' });
          assert.strictEqual(ran.status, 0, `${step.join(' ')}: ${ran.stdout}${ran.stderr}`);
        }
      }
      const start = startLine(exported.answer!.next);
      assert.strictEqual(start.cwd, definition.cwd ?? folder);
      // Gunicorn's debug log prints its whole configuration: what it took from the file.
      const server = startServer([path.resolve(start.cwd, start.argv[0]), ...start.argv.slice(1), '--log-level', 'debug'], start.cwd, env);
      try {
        const workers = definition.workers!;
        await checkServes(server, port, example.pidPath, workers);
        const log = server.output.join('\n');
        const workerClass = definition.workerClass ?? 'uvicorn_worker.UvicornWorker';
        assert.match(log, new RegExp(`Using worker: ${workerClass.replace(/\./g, '\\.')}`), 'its worker class');
        assert.match(log, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} \\(${server.child.pid}\\)`), 'its bind, by the master');
        assert.match(log, new RegExp(`^\\s*workers: ${workers}$`, 'm'), 'its worker count in the configuration');
        assert.match(log, new RegExp(`^\\s*timeout: ${definition.timeout ?? 30}$`, 'm'), 'its timeout');
        assert.match(log, new RegExp(`^\\s*graceful_timeout: ${definition.gracefulTimeout ?? DEFAULT_GRACEFUL_TIMEOUT}$`, 'm'), 'its graceful timeout');
        assert.match(log, /^\s*accesslog: -$/m, 'an access log');
        assert.match(log, new RegExp(`"GET ${example.pidPath} HTTP/1.1" 200`), 'the request in the access log');
      } finally {
        await stopAndCheckServer(server);
        fs.rmSync(path.dirname(dbPath), { recursive: true, force: true });
      }
    });
  }
});

describe('export --format gunicorn for Uvicorn, Granian and Hypercorn: the exported command line', { timeout: 240000 }, () => {
  for (const example of EXAMPLE_TASKS.slice(3)) {
    it(`${example.example}'s task "${example.task}": starts that server with the task's settings, and it serves`, async () => {
      const { folder, definition } = exampleTask(example);
      const port = await freePort();
      const out = scratchIn(folder);
      const exported = runExport(['--task', example.task, '--format', 'gunicorn', '--out', out, '--bind', `127.0.0.1:${port}`], folder);
      assert.strictEqual(exported.code, 0, exported.stderr);
      const names = exported.answer!.files.map((f) => f.name);
      let server: StartedServer;
      if (definition.server === 'hypercorn') {
        assert.deepStrictEqual(names, ['hypercorn.toml']);
        const start = startLine(exported.answer!.next);
        server = startServer([path.resolve(start.cwd, start.argv[0]), ...start.argv.slice(1)], start.cwd, {});
      } else {
        assert.deepStrictEqual(names, ['serve.sh']);
        const script = path.join(out, 'serve.sh');
        assert.strictEqual(fs.statSync(script).mode & 0o111, 0o111, 'serve.sh is executable');
        server = startServer([script], os.tmpdir(), {});
      }
      try {
        await checkServes(server, port, example.pidPath, definition.workers!);
        // sh execs the server: its first process is the server's master, with the task's settings on its command line.
        const master = commandLine(server.child.pid!);
        assert.match(master, new RegExp(`-m ${definition.server} .*main:app`));
        const graceful = definition.gracefulTimeout ?? DEFAULT_GRACEFUL_TIMEOUT;
        if (definition.server === 'uvicorn') assert.match(master, new RegExp(`--workers ${definition.workers} .*--timeout-graceful-shutdown ${graceful}`));
        if (definition.server === 'granian') {
          assert.match(master, new RegExp(`--interface ${definition.interface} --workers ${definition.workers} .*--workers-kill-timeout ${graceful}`));
          assert.match(master, new RegExp(`--workers-max-rss ${definition.maxMemoryMb}`), 'maxMemoryMb as Granian\'s own per-worker limit');
        }
        if (definition.server === 'hypercorn') {
          const toml = fs.readFileSync(path.join(out, 'hypercorn.toml'), 'utf8');
          assert.match(toml, new RegExp(`^graceful_timeout = ${graceful}`, 'm'));
          assert.match(server.output.join('\n'), /GET \/pid/, 'the request in its access log');
        }
      } finally {
        await stopAndCheckServer(server);
      }
    });
  }
});
