// Section 7, reload on save: a copy of an example app, its handler's text rewritten `saves` times while a load loop
// runs (`lanes` clients, a new connection per request). Per server kind, under the core with reload on save (the
// CLI's watcher and debounce, the same path as the extension's):
// - save -> every worker serving the new code: the new generation is all ready before any old worker stops taking
//   requests, so this is when the last answer with the old text came (or the first with the new one, if later);
// - save -> `reloaded` (the old workers have also finished and exited), and save -> the first answer with the new text;
// - the requests that failed.
// Beside it, `uvicorn --reload` (one worker: the only way Uvicorn reloads) on the same app: save -> the new text,
// and its failed requests. SERVER_WORKERS_BENCH_RELOAD=uvicorn,hypercorn measures only the kinds whose name starts
// with one of those words (the comparison beside runs with uvicorn).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { delay, fastapiExample, freePort, nowMs, python, repoRoot, startCoreServer, summary } from './lib.mjs';

const KINDS = [
  { kind: 'gunicorn + UvicornWorker (FastAPI)', example: fastapiExample, file: 'main.py', app: 'main:app', definition: {} },
  { kind: 'gunicorn sync (Flask)', example: path.join(repoRoot, 'examples', 'flask'), file: 'app.py', app: 'app:app', definition: { workerClass: 'sync' } },
  { kind: 'uvicorn --workers (FastAPI)', example: fastapiExample, file: 'main.py', app: 'main:app', definition: { server: 'uvicorn' } },
  { kind: 'granian (FastAPI)', example: fastapiExample, file: 'main.py', app: 'main:app', definition: { server: 'granian' } },
  { kind: 'hypercorn (FastAPI)', example: fastapiExample, file: 'main.py', app: 'main:app', definition: { server: 'hypercorn' } },
];
const GREETING = 'Hello from a worker';

export async function reload(core, cfg, log) {
  const kinds = [];
  const only = process.env.SERVER_WORKERS_BENCH_RELOAD?.split(',').map((word) => word.trim()).filter(Boolean);
  for (const kind of KINDS.filter((k) => !only || only.some((word) => k.kind.startsWith(word)))) {
    log(`${kind.kind}: ${cfg.saves} saves, ${cfg.workers} workers, ${cfg.lanes} clients`);
    kinds.push(await underTheCore(core, kind, cfg, log));
  }
  if (only && !only.includes('uvicorn')) return { setup: { ...cfg, apps: 'examples/fastapi/main.py, examples/flask/app.py (copies; the greeting rewritten)' }, kinds };
  log(`uvicorn --reload (1 worker): ${cfg.saves} saves`);
  const uvicornReload = await plainUvicornReload(cfg, log);
  return { setup: { ...cfg, apps: 'examples/fastapi/main.py, examples/flask/app.py (copies; the greeting rewritten)' }, kinds, uvicornReload };
}

async function underTheCore(core, kind, cfg, log) {
  const folder = appCopy(kind.example);
  const file = path.join(folder, kind.file);
  const reloaded = [];
  const failedReloads = [];
  let server;
  let watcher;
  let load;
  try {
    server = await startCoreServer(core, {
      app: kind.app,
      cwd: folder,
      workers: cfg.workers,
      ...kind.definition,
      onCreate: (supervisor) => (supervisor.setReloadOnSave(true), supervisor.onReload.on((event) => {
        if (event.type === 'reloaded') reloaded.push({ at: nowMs(), generation: event.generation, method: event.method });
        if (event.type === 'failed') failedReloads.push({ at: nowMs(), message: event.failure.message });
      })),
    });
    const { supervisor } = server;
    const { reload: globs } = supervisor.currentDefinition;
    const batcher = new core.ChangeBatcher({ root: folder, include: globs.include, exclude: globs.exclude }, (files) => supervisor.reload(files).catch(() => undefined));
    watcher = await core.FileWatcher.start({ root: folder, include: globs.include, exclude: globs.exclude }, (changed) => batcher.changed(changed));
    load = new LoadLoop(server.port, cfg.lanes);
    const saves = [];
    let previous = GREETING;
    for (let i = 1; i <= cfg.saves; i++) {
      await delay(cfg.pauseMs);
      const text = `${GREETING}, save ${i}`;
      const savedAt = nowMs();
      rewrite(file, text);
      const done = await until(() => reloaded.find((r) => r.at > savedAt) ?? failedReloads.find((r) => r.at > savedAt), 120000, `reload ${i}`);
      if (done.message !== undefined) {
        log(`  reload ${i} failed: ${done.message}`);
        continue;
      }
      const firstNew = load.firstWith(text, savedAt) ?? done.at;
      const lastOld = load.lastWith(previous, savedAt) ?? firstNew;
      saves.push({ toAllNewMs: Math.max(firstNew, lastOld) - savedAt, toReloadedMs: done.at - savedAt, toFirstNewAnswerMs: firstNew - savedAt, method: done.method });
      previous = text;
      const stale = await probe(server.port, text, 20).catch(() => 20);
      if (stale > 0) throw new Error(`after reload ${i}, ${stale} of 20 answers had the old text`);
    }
    const { answers, failures } = await load.stop();
    load = undefined;
    const result = {
      kind: kind.kind,
      method: saves[0]?.method,
      toAllNewMs: summary(saves.map((s) => s.toAllNewMs)),
      toReloadedMs: summary(saves.map((s) => s.toReloadedMs)),
      toFirstNewAnswerMs: summary(saves.map((s) => s.toFirstNewAnswerMs)),
      requests: answers + failures.length,
      failedRequests: failures.length,
      failures: failures.slice(0, 20),
      failedReloads,
      saves,
    };
    log(`  save -> every worker new median ${result.toAllNewMs.median.toFixed(0)} ms, max ${result.toAllNewMs.max.toFixed(0)} ms (reloaded: ${result.toReloadedMs.median.toFixed(0)} ms); ${result.failedRequests} of ${result.requests} requests failed`);
    return result;
  } finally {
    await load?.stop();
    await watcher?.close();
    await server?.stop();
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

async function plainUvicornReload(cfg, log) {
  const folder = appCopy(fastapiExample);
  const file = path.join(folder, 'main.py');
  const port = await freePort();
  const devNull = fs.openSync('/dev/null', 'w');
  const child = spawn(python, ['-m', 'uvicorn', 'main:app', '--reload', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: folder, detached: true, stdio: ['ignore', devNull, devNull], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  fs.closeSync(devNull);
  let load;
  try {
    await until(() => probe(port, GREETING, 1).then((stale) => stale === 0, () => false), 60000, 'uvicorn --reload to answer');
    load = new LoadLoop(port, cfg.lanes);
    const saves = [];
    for (let i = 1; i <= cfg.saves; i++) {
      await delay(cfg.pauseMs);
      const text = `${GREETING}, save ${i}`;
      const savedAt = nowMs();
      rewrite(file, text);
      const at = await until(() => load.firstWith(text, savedAt), 60000, `uvicorn --reload's reload ${i}`);
      saves.push({ toNewAnswerMs: at - savedAt });
      await delay(300); // past its restart, before the next save
    }
    const { answers, failures } = await load.stop();
    load = undefined;
    const result = { toNewAnswerMs: summary(saves.map((s) => s.toNewAnswerMs)), requests: answers + failures.length, failedRequests: failures.length, failures: failures.slice(0, 20), saves };
    log(`  save -> new text median ${result.toNewAnswerMs.median.toFixed(0)} ms; ${result.failedRequests} of ${result.requests} requests failed`);
    return result;
  } finally {
    await load?.stop();
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone
    }
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

function appCopy(example) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-reload-'));
  for (const name of fs.readdirSync(example)) if (name.endsWith('.py')) fs.copyFileSync(path.join(example, name), path.join(folder, name));
  return folder;
}

/** The example's greeting becomes `text` (the handler's returned text). */
function rewrite(file, text) {
  const source = fs.readFileSync(file, 'utf8').replace(/"Hello from a worker[^"]*"/, JSON.stringify(text));
  fs.writeFileSync(file, source);
}

async function until(probeFn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probeFn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

/** How many of `count` answers in a row do not carry `text`. */
async function probe(port, text, count) {
  let stale = 0;
  for (let i = 0; i < count; i++) {
    const answer = await get(port);
    if (answer.message !== text) stale++;
  }
  return stale;
}

function get(port) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
        else {
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error);
          }
        }
      });
    });
    request.setTimeout(15000, () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/** Clients that send GET / one after another, each on a new connection, until stopped; every failure is kept. */
class LoadLoop {
  constructor(port, lanes) {
    this.port = port;
    this.answers = 0;
    this.failures = [];
    this.seen = new Map(); // text -> when it was first and last answered (ms)
    this.running = true;
    this.lanes = Array.from({ length: lanes }, () => this.lane());
  }

  /** When `text` (each save's is new) was first answered, if after `since`. */
  firstWith(text, since) {
    const first = this.seen.get(text)?.first;
    return first !== undefined && first >= since ? first : undefined;
  }

  /** When `text` was last answered, if after `since`. */
  lastWith(text, since) {
    const last = this.seen.get(text)?.last;
    return last !== undefined && last >= since ? last : undefined;
  }

  async lane() {
    while (this.running) {
      try {
        const answer = await get(this.port);
        this.answers++;
        const at = nowMs();
        const seen = this.seen.get(answer.message);
        if (seen) seen.last = at;
        else this.seen.set(answer.message, { first: at, last: at });
      } catch (error) {
        this.failures.push({ at: nowMs(), what: error.code ?? error.message });
        await delay(5);
      }
    }
  }

  async stop() {
    this.running = false;
    await Promise.all(this.lanes);
    return { answers: this.answers, failures: this.failures };
  }
}
