/**
 * A save whose import does not complete is refused on every server kind, with load on the old generation (issue 22,
 * items 1 to 4): `sys.exit("...")`, `os._exit(0)`, a death by a signal, an import that hangs past the reload timeout.
 * Each time the old workers serve on (0 failed requests), nothing respawns in a loop, the boot-failure limit is not
 * tripped, everything the reload started is gone (the model equals /proc; Gunicorn's worker count is back), and the
 * next good save is taken. Where the app is imported first (Granian, Hypercorn, a restart), what the import check
 * starts is gone when it ends, and a stop during the check leaves nothing behind.
 */
import * as assert from 'node:assert';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import { ServerError } from '../../src/core/errors';
import { commandLine, isAlive } from '../../src/core/process/procfs';
import { gunicornWorkerTarget } from '../../src/core/reload/gunicornControl';
import { LoadLoop } from './loadLoop';
import { forkingChildren, loggedChildren, processesIn, reloadAppFolder, writeVersion, writeVersionCode } from './reloadSupport';
import { assertModelMatchesProc, createServer, eventually, get, stopAndCheck, type TestServer } from './support';

/** The reload timeout of these servers: long enough for a good reload on a busy machine, short for the hang. */
const RELOAD_TIMEOUT = 8;
const WORKERS = 2;
/** How long after a refusal nothing may respawn (Gunicorn looped 32 times in 2 s, and its boot-failure limit tripped). */
const QUIET_MS = 1500;

interface BadSave {
  what: string;
  code: string;
  message: RegExp;
  /** The refusal points at version.py, this line. */
  line?: number;
}

const BAD_SAVES: BadSave[] = [
  { what: 'sys.exit("...")', code: 'import sys\nsys.exit("DATABASE_URL is not set")', message: /SystemExit: DATABASE_URL is not set/, line: 2 },
  { what: 'os._exit(0)', code: 'import os\nos._exit(0)', message: /exited with code 0 before/ },
  { what: 'a death by SIGKILL', code: 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)', message: /killed by SIGKILL before/ },
  { what: 'an import that hangs', code: 'import time\ntime.sleep(3600)', message: new RegExp(`did not finish within ${RELOAD_TIMEOUT} s \\(waiting at version\\.py:2\\)`), line: 2 },
];

/**
 * Forks children that sleep for an hour, only where the import is not a worker's (the agent's role): the import check.
 * The workers import the same file: their children would be theirs, and outlive them.
 */
function checkOnlyChildren(log: string): string {
  const fork = forkingChildren(log).split('\n');
  return [
    'import sys',
    'if getattr(getattr(sys.modules.get("server_workers_agent.state"), "state", None), "role", None) != "worker":',
    ...fork.map((line) => `    ${line}`),
  ].join('\n');
}

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.supervisor.stop();
});

async function started(definition: Partial<ServerDefinition>): Promise<{ server: TestServer; folder: string }> {
  const folder = reloadAppFolder();
  const server = await createServer({ app: 'reload_asgi:app', workers: WORKERS, cwd: folder, reloadTimeout: RELOAD_TIMEOUT, ...definition });
  servers.push(server);
  await server.supervisor.start();
  await eventually('the reload method to be known', () => server.supervisor.model().reload.method !== undefined);
  return { server, folder };
}

async function modelMatchesProc(server: TestServer): Promise<void> {
  let last: unknown;
  const matches = () => {
    try {
      assertModelMatchesProc(server.supervisor.model(), WORKERS);
      return true;
    } catch (error) {
      last = error;
      return false;
    }
  };
  await eventually('the model to equal /proc', matches, 5000).catch(() => assert.fail(last instanceof Error ? last.message : String(last)));
}

/** Gunicorn's own worker count, from its control socket (the path is on the master's command line). */
async function gunicornCount(masterPid: number): Promise<number | undefined> {
  const argv = commandLine(masterPid).split(' ');
  return gunicornWorkerTarget(argv[argv.indexOf('--control-socket') + 1]);
}

/**
 * Saves `save`, and proves it refused and everything the reload started gone, the old generation serving on. Returns
 * when it was refused: from the save to the end of the quiet time after the refusal.
 */
async function refused(server: TestServer, folder: string, save: BadSave, checkedFirst: boolean): Promise<[number, number]> {
  const from = Date.now();
  const before = server.supervisor.model();
  let ups = 0;
  const off = server.supervisor.onWorker.on((event) => (ups += event.type === 'up' ? 1 : 0));
  const file = writeVersionCode(folder, save.code);
  const error = await server.supervisor.reload().then(() => undefined, (e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  off();
  const model = server.supervisor.model();
  assert.strictEqual(model.state, 'running', `${save.what}: the server runs (${model.error ?? ''})`);
  assert.strictEqual(model.master?.pid, before.master!.pid, `${save.what}: the same master`);
  assert.deepStrictEqual(model.workers.map((w) => w.pid), before.workers.map((w) => w.pid), `${save.what}: the old workers serve on`);
  assert.ok(ups <= (checkedFirst ? 0 : WORKERS), `${save.what}: no respawn loop (${ups} workers started)`);
  assert.ok(error instanceof ServerError, `${save.what}: the reload is refused (it ${error === undefined ? 'succeeded' : (error as Error).message})`);
  assert.match(error.message, /^Reload failed, serving the previous code: /);
  assert.match(error.message, save.message, save.what);
  if (save.line) assert.deepStrictEqual(error.details.location, { file, line: save.line }, `${save.what}: it points at the saved file`);
  await modelMatchesProc(server);
  if (before.kind === 'gunicorn') assert.strictEqual(await gunicornCount(before.master!.pid), WORKERS, `${save.what}: Gunicorn's worker count is back`);
  return [from, Date.now()];
}

/**
 * `resetsOnGoodReload`: Granian's own stop of an old worker (terminate, in its Rust runtime) resets a connection or two
 * it had accepted and not read, about one good reload in two under this load; the refusals must lose none.
 */
const KINDS: Array<{ title: string; definition: Partial<ServerDefinition>; checkedFirst: boolean; resetsOnGoodReload?: boolean }> = [
  { title: 'gunicorn + UvicornWorker', definition: {}, checkedFirst: false },
  { title: 'gunicorn sync', definition: { app: 'reload_flask:app', workerClass: 'sync' }, checkedFirst: false },
  { title: 'uvicorn --workers', definition: { server: 'uvicorn' }, checkedFirst: false },
  { title: 'granian --workers', definition: { server: 'granian' }, checkedFirst: true, resetsOnGoodReload: true },
  { title: 'hypercorn --workers', definition: { server: 'hypercorn' }, checkedFirst: true },
];

for (const kind of KINDS) {
  describe(`a save that does not import: ${kind.title}`, { timeout: 240000 }, () => {
    it('exits (sys.exit, os._exit(0)), is killed, or hangs: refused, under load, the old workers serving on with nothing left of the reload; the next good save is taken', async () => {
      const { server, folder } = await started(kind.definition);
      const load = new LoadLoop(server.port, 2);
      const refusals: Array<[number, number]> = [];
      let passed = false;
      try {
        for (const save of BAD_SAVES) refusals.push(await refused(server, folder, save, kind.checkedFirst));
        if (kind.checkedFirst) {
          // An import that starts processes and completes: the check passes, and what it started is gone with it.
          const log = path.join(folder, 'children.log');
          writeVersionCode(folder, checkOnlyChildren(log), 'forked');
          await server.supervisor.reload();
          assert.strictEqual(loggedChildren(log).length, 3, 'the check imported the app (its children logged)');
          assert.deepStrictEqual(loggedChildren(log).filter(([pid]) => isAlive(pid)), [], 'the check\'s children are gone');
          await modelMatchesProc(server);
        }
        writeVersion(folder, 'good');
        await server.supervisor.reload();
        assert.strictEqual((await get(server.port, '/')).body.text, 'good');
        await modelMatchesProc(server);
        passed = true;
      } finally {
        const { answers, failures } = await load.stop();
        if (!passed) console.log(`# ${kind.title}: ${failures.length} requests failed before the assertion that failed`);
        const duringRefusals = failures.filter((f) => refusals.some(([from, to]) => f.at >= from && f.at <= to));
        if (passed) {
          assert.deepStrictEqual(duringRefusals, [], 'no request failed while the bad saves were refused');
          if (!kind.resetsOnGoodReload) assert.deepStrictEqual(failures, [], 'no request failed during the good reloads either');
          assert.ok(answers > 50, `the load ran (${answers} answers)`);
        }
      }
      await stopAndCheck(server);
      assert.deepStrictEqual(processesIn(folder), [], 'nothing runs in the app\'s folder after the stop');
    });
  });
}

describe('a save that does not import, where the server restarts to reload (uvicorn with one worker)', { timeout: 120000 }, () => {
  it('the import check in a process of its own: os._exit(0) and sys.exit are refused; a stop during a hanging check ends it and all it started', async () => {
    const { server, folder } = await started({ server: 'uvicorn', workers: 1 });
    assert.strictEqual(server.supervisor.model().reload.method, 'restart');
    const masterPid = server.supervisor.model().master!.pid;
    for (const save of BAD_SAVES.slice(0, 2)) {
      writeVersionCode(folder, save.code);
      await assert.rejects(server.supervisor.reload(), save.message);
      assert.strictEqual(server.supervisor.model().master?.pid, masterPid, `${save.what}: not restarted`);
      assert.strictEqual((await get(server.port, '/')).body.text, 'v0');
    }
    const log = path.join(folder, 'children.log');
    writeVersionCode(folder, `${checkOnlyChildren(log)}\nimport time\ntime.sleep(3600)`);
    const reload = server.supervisor.reload().then(() => undefined, (e: unknown) => e);
    await eventually('the check to start its children', () => loggedChildren(log).length === 3, 15000);
    await stopAndCheck(server);
    assert.ok(((await reload) as ServerError | undefined)?.reason === 'stopped', 'the reload ends as stopped, not as a restart');
    assert.deepStrictEqual(loggedChildren(log).filter(([pid]) => isAlive(pid)), [], 'the check\'s children are gone');
    assert.deepStrictEqual(processesIn(folder), [], 'nothing of the check outlives the stop');
  });
});

describe('a stop during the import check in a fork of the warm master (hypercorn)', { timeout: 120000 }, () => {
  it('ends the check and all it started with the server', async () => {
    const { server, folder } = await started({ server: 'hypercorn' });
    writeVersion(folder, 'v1');
    await server.supervisor.reload(); // the master is warm: the next check runs in a fork of it
    const log = path.join(folder, 'children.log');
    writeVersionCode(folder, `${checkOnlyChildren(log)}\nimport time\ntime.sleep(3600)`);
    const reload = server.supervisor.reload().then(() => undefined, (e: unknown) => e);
    await eventually('the check to start its children', () => loggedChildren(log).length === 3, 15000);
    const stopStarted = Date.now();
    await stopAndCheck(server);
    assert.ok(Date.now() - stopStarted < 5000, `the stop does not wait for the check (${Date.now() - stopStarted} ms)`);
    assert.strictEqual(((await reload) as ServerError | undefined)?.reason, 'stopped');
    assert.deepStrictEqual(loggedChildren(log).filter(([pid]) => isAlive(pid)), [], 'the check\'s children are gone');
    assert.deepStrictEqual(processesIn(folder), [], 'nothing of the check outlives the stop');
  });
});

describe('Granian: new code that imports, whose startup fails or hangs', { timeout: 120000 }, () => {
  it('each successor that does not get ready goes, and the old worker keeps its position: refused, under load', async () => {
    const { server, folder } = await started({ server: 'granian' });
    const load = new LoadLoop(server.port, 2);
    const saves = [
      { what: 'a lifespan startup that raises', startup: 'raise RuntimeError("the database is down")', message: /RuntimeError: the database is down/ },
      { what: 'a lifespan startup that hangs', startup: 'import time; time.sleep(3600)', message: new RegExp(`did not finish within ${RELOAD_TIMEOUT} s \\(waiting at version\\.py:5\\)`) },
    ];
    const refusals: Array<[number, number]> = [];
    for (const save of saves) {
      const before = server.supervisor.model().workers.map((w) => w.pid);
      writeVersion(folder, 'bad', save.startup);
      const from = Date.now();
      await assert.rejects(server.supervisor.reload(), save.message, save.what);
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      refusals.push([from, Date.now()]);
      assert.strictEqual(server.supervisor.model().state, 'running', `${save.what}: the server runs`);
      assert.deepStrictEqual(server.supervisor.model().workers.map((w) => w.pid), before, `${save.what}: the old workers serve on`);
      await modelMatchesProc(server);
      assert.strictEqual((await get(server.port, '/')).body.text, 'v0');
    }
    writeVersion(folder, 'good');
    await server.supervisor.reload();
    assert.strictEqual((await get(server.port, '/')).body.text, 'good');
    const { failures } = await load.stop();
    assert.deepStrictEqual(failures.filter((f) => refusals.some(([from, to]) => f.at >= from && f.at <= to)), [], 'no request failed while the saves were refused');
    await stopAndCheck(server);
  });
});
