/**
 * The Reload Workers path (Supervisor.reload(): the command, the tree's button, the CLI's {"cmd":"reload"}) on what
 * used to halt Gunicorn (a reload while the code does not import; a worker respawned while it does not), and the
 * servers that can only restart (--preload, Uvicorn before 0.30), which say so once.
 */
import * as assert from 'node:assert';
import { after, describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import { ServerError } from '../../src/core/errors';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commandLine, isAlive, readProcStat } from '../../src/core/process/procfs';
import type { ReloadEvent } from '../../src/core/supervisor';
import { oldUvicornPython } from '../support/paths';
import { LoadLoop } from './loadLoop';
import { reloadAppFolder, writeBrokenVersion, writeVersion } from './reloadSupport';
import { createServer, eventually, get, stopAndCheck, type TestServer } from './support';

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.supervisor.stop();
});

async function started(definition: Partial<ServerDefinition>): Promise<{ server: TestServer; folder: string; events: ReloadEvent[] }> {
  const folder = reloadAppFolder();
  const server = await createServer({ app: 'reload_asgi:app', workers: 3, cwd: folder, ...definition });
  servers.push(server);
  const events: ReloadEvent[] = [];
  server.supervisor.onReload.on((event) => events.push(event));
  await server.supervisor.start();
  await eventually('the reload method to be known', () => server.supervisor.model().reload.method !== undefined);
  return { server, folder, events };
}

function masterLines(server: TestServer): string[] {
  return server.output.filter((e) => e.slot === 0).flatMap((e) => e.lines);
}

describe('Reload Workers (gunicorn + UvicornWorker)', { timeout: 120000 }, () => {
  it('with code that does not import: rejects, says where, and the server keeps serving the old code; a worker respawned meanwhile does not halt it either', async () => {
    const { server, folder, events } = await started({});
    const model = server.supervisor.model();
    assert.strictEqual(model.reload.method, 'swap');
    const masterPid = model.master!.pid;
    const oldPids = model.workers.map((w) => w.pid);
    const load = new LoadLoop(server.port, 2);

    const broken = writeBrokenVersion(folder);
    await assert.rejects(server.supervisor.reload(), (error: ServerError) => {
      assert.strictEqual(error.details.location?.file, broken);
      assert.strictEqual(error.details.location?.line, 1);
      return /Reload failed, serving the previous code: SyntaxError/.test(error.message);
    });
    const failed = server.supervisor.model();
    assert.strictEqual(failed.state, 'running');
    assert.strictEqual(failed.master?.pid, masterPid, 'the master did not halt');
    assert.deepStrictEqual(failed.workers.map((w) => w.pid), oldPids, 'the old workers serve');
    assert.deepStrictEqual(failed.reload.failure && [failed.reload.failure.file, failed.reload.failure.line, failed.reload.failure.servingGeneration], [broken, 1, 1]);
    assert.ok(masterLines(server).some((l) => l.startsWith('── reload failed, serving the previous code (generation 1): SyntaxError')));
    assert.deepStrictEqual(events.map((e) => e.type), ['started', 'failed']);
    // The first reload warmed the master with the workers' libraries, never with the app's own modules.
    const modules = (await server.supervisor.requestWorker(2, { t: 'modules' })).modules as string[];
    assert.ok(modules.includes('uvicorn.server') && modules.includes('json'), 'libraries and the standard library');
    assert.ok(!modules.some((m) => /^(reload_asgi|version|server_workers_agent|debugpy)/.test(m)), `not the app's code nor the agent's: ${modules.join(' ')}`);
    await eventually('the warm master', () => masterLines(server).some((l) => /Server Workers: the master imported \d+ library modules/.test(l)));

    assert.deepStrictEqual((await load.stop()).failures, [], 'no request failed during the broken reload');

    // Gunicorn respawns a worker that dies; with the broken code it fails to boot: the pool shrinks, the server stays.
    process.kill(oldPids[0], 'SIGKILL');
    await eventually('the respawned worker to fail and the pool to shrink', () => server.output.some((e) => e.lines.some((l) => /Server Workers: worker \(pid:\d+\) failed to boot \(it exited with code 3\); the server goes on with 2 worker/.test(l))), 30000);
    assert.ok(isAlive(masterPid), 'the master is alive');
    assert.strictEqual((await get(server.port, '/')).body.text, 'v0');

    const afterCrash = new LoadLoop(server.port, 2);
    writeVersion(folder, 'v1');
    await server.supervisor.reload();
    const fixed = server.supervisor.model();
    assert.strictEqual(fixed.reload.failure, undefined, 'the failure is cleared');
    assert.strictEqual(fixed.workers.length, 3, 'back to the wanted count');
    assert.deepStrictEqual(fixed.workers.map((w) => [w.state, w.generation]), Array(3).fill(['ready', 3]));
    assert.deepStrictEqual(fixed.retiring, []);
    for (const pid of oldPids) assert.ok(!isAlive(pid), `old worker ${pid} is gone`);
    assert.strictEqual((await get(server.port, '/')).body.text, 'v1');
    assert.deepStrictEqual((await afterCrash.stop()).failures, [], 'no request failed during the good reload');
    await stopAndCheck(server);
  });

  it('an old worker in the middle of a long request finishes it with the old code', async () => {
    const { server, folder } = await started({});
    const slow = get(server.port, '/slow?s=3');
    await new Promise((resolve) => setTimeout(resolve, 300));
    writeVersion(folder, 'v1');
    await server.supervisor.reload();
    const { status, body } = await slow;
    assert.deepStrictEqual([status, body.text], [200, 'v0']);
    assert.strictEqual((await get(server.port, '/')).body.text, 'v1');
    await stopAndCheck(server);
  });
});

/** The signals a process has a handler for (/proc/PID/status, SigCgt). */
function caughtSignals(pid: number): bigint {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('SigCgt:'))!;
  return BigInt(`0x${line.split(/\s+/)[1]}`);
}
const caught = (mask: bigint, signal: number): boolean => ((mask >> BigInt(signal - 1)) & 1n) === 1n;
const standardSignals = (mask: bigint): bigint => mask & 0x7fffffffn;

const forkingServers = [
  { server: 'uvicorn', method: 'rolling', startedLine: (pid: number) => `Started server process [${pid}]`, respawns: true, checksImport: false },
  // Hypercorn stops when a worker dies, and scales by restarting: neither forks. Its reload imports the app first.
  { server: 'hypercorn', method: 'signal', startedLine: () => 'Running on http://', respawns: false, checksImport: true },
] as const;

for (const kind of forkingServers) {
  describe(`Reload Workers (${kind.server} --workers)`, { timeout: 120000 }, () => {
    it(`the first reload warms the master, which then forks the new workers: each a worker of its own, with an interpreter's signal handlers${kind.respawns ? '; scaling and a respawn fork too' : ''}`, async () => {
      const { server, folder } = await started({ server: kind.server });
      const model = server.supervisor.model();
      assert.strictEqual(model.reload.method, kind.method);
      const masterPid = model.master!.pid;
      const spawned = model.workers.map((w) => w.pid);
      assert.ok(spawned.every((pid) => commandLine(pid).includes('--multiprocessing-fork')), 'the first workers are spawned');
      const spawnedMask = standardSignals(caughtSignals(spawned[0]));
      assert.ok(!caught(spawnedMask, 1), 'a spawned worker has no SIGHUP handler');
      const load = new LoadLoop(server.port, 2);

      writeVersion(folder, 'v1');
      await server.supervisor.reload();
      assert.ok(masterLines(server).some((l) => /Server Workers: the master imported \d+ library modules in [\d.]+ s; new workers are forked with them/.test(l)), 'the master says it is warm');
      const forked = server.supervisor.model().workers;
      assert.deepStrictEqual(forked.map((w) => [w.state, w.generation]), Array(3).fill(['ready', 2]));
      for (const { pid } of forked) {
        assert.ok(!spawned.includes(pid) && !isAlive(spawned[0]), 'new workers replaced the old');
        assert.strictEqual(readProcStat(pid)?.ppid, masterPid, 'a child of the master');
        assert.ok(!commandLine(pid).includes('--multiprocessing-fork'), `forked, not spawned: ${commandLine(pid)}`);
        const mask = caughtSignals(pid);
        for (const signal of [1, 21, 22, 10, 12, 28]) assert.ok(!caught(mask, signal), `worker ${pid} does not keep the master's handler for signal ${signal}`);
        assert.strictEqual(standardSignals(mask).toString(2), spawnedMask.toString(2), 'the same handlers as a spawned worker (the server\'s own)');
        await eventually(`worker ${pid}'s own output`, () => server.output.some((e) => e.pid === pid && e.slot > 0 && e.lines.some((l) => l.includes(kind.startedLine(pid)))));
      }
      assert.strictEqual((await get(server.port, '/')).body.text, 'v1');
      assert.deepStrictEqual((await load.stop()).failures, [], 'no request failed during the reload');

      if (kind.respawns) await scaleAndRespawnForked(server);
      if (kind.checksImport) await importCheckedInAFork(server, folder);
      const again = new LoadLoop(server.port, 2);
      writeVersion(folder, 'v2');
      await server.supervisor.reload();
      assert.deepStrictEqual(new Set((await Promise.all([1, 2, 3, 4, 5, 6].map(() => get(server.port, '/')))).map((r) => r.body.text)), new Set(['v2']));
      assert.deepStrictEqual((await again.stop()).failures, [], 'no request failed during the reload of forked workers');
      await stopAndCheck(server);
    });
  });
}

describe('Reload Workers (granian --workers)', { timeout: 120000 }, () => {
  it('every successor starts at once from the warm master, and each old worker stops once its successor is ready, not after Granian\'s respawn interval; the app is import-checked in a fork of the master', async () => {
    const { server, folder } = await started({ server: 'granian', args: ['--respawn-interval', '30'] });
    assert.strictEqual(server.supervisor.model().reload.method, 'rolling');
    const old = server.supervisor.model().workers.map((w) => w.pid);
    const reloadStarted = Date.now();
    writeVersion(folder, 'v1');
    await server.supervisor.reload();
    assert.ok(Date.now() - reloadStarted < 30000, 'done before one respawn interval (30 s) passed');
    const reloaded = server.supervisor.model().workers;
    assert.deepStrictEqual(reloaded.map((w) => [w.state, w.generation]), Array(3).fill(['ready', 2]));
    for (const pid of old) assert.ok(!isAlive(pid), `old worker ${pid} is gone`);
    const lines = masterLines(server);
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    assert.ok(at('Server Workers: every successor started at once') > at('Respawning worker-3'), 'all three successors first');
    assert.ok(at('Stopping old worker-1') > at('Server Workers: every successor started at once'), 'then the old workers stop');
    assert.strictEqual((await get(server.port, '/')).body.text, 'v1');
    await importCheckedInAFork(server, folder);

    // A SIGHUP from outside (kill -HUP): the supervisor still says which successors are ready.
    writeVersion(folder, 'v2');
    const before = server.supervisor.model().workers.map((w) => w.pid);
    const hupSent = Date.now();
    process.kill(server.supervisor.model().master!.pid, 'SIGHUP');
    await eventually('every worker replaced', () => {
      const workers = server.supervisor.model().workers;
      return workers.length === 3 && workers.every((w) => w.state === 'ready' && !before.includes(w.pid)) && before.every((pid) => !isAlive(pid));
    }, 30000);
    assert.ok(Date.now() - hupSent < 30000, 'done before one respawn interval (30 s) passed');
    assert.strictEqual((await get(server.port, '/')).body.text, 'v2');
    await stopAndCheck(server);
  });
});

/** Hypercorn's and Granian's reload imports the app first: in a fork of the warm master (no worker), which also finds broken code. */
async function importCheckedInAFork(server: TestServer, folder: string): Promise<void> {
  const masterPid = server.supervisor.model().master!.pid;
  const before = server.supervisor.model().workers.map((w) => w.pid);
  const imports = path.join(folder, 'imports.log');
  writeVersion(folder, 'v1.5');
  // Each import logs its pid, its parent and its grandparent: the check's importer is a child of its reaper (the fork).
  const grandparent = 'int(open("/proc/%d/stat" % os.getppid()).read().rsplit(")", 1)[1].split()[1])';
  fs.appendFileSync(path.join(folder, 'version.py'), `\nimport os\nwith open(${JSON.stringify(imports)}, "a") as log:\n    log.write("%d %d %d\\n" % (os.getpid(), os.getppid(), ${grandparent}))\n`);
  await server.supervisor.reload();
  const after = server.supervisor.model().workers.map((w) => w.pid);
  const importers = fs.readFileSync(imports, 'utf8').trim().split('\n').map((line) => line.split(' ').map(Number));
  const checks = importers.filter(([pid]) => !after.includes(pid) && !before.includes(pid));
  assert.strictEqual(checks.length, 1, `one import outside the workers: ${JSON.stringify(importers)}, workers ${after}`);
  assert.strictEqual(checks[0][2], masterPid, 'in a fork of the master (the importer\'s parent is the check\'s reaper)');
  assert.ok(!isAlive(checks[0][0]) && !isAlive(checks[0][1]), 'the check\'s importer and reaper are gone');
  assert.strictEqual((await get(server.port, '/')).body.text, 'v1.5');

  const broken = writeBrokenVersion(folder);
  await assert.rejects(server.supervisor.reload(), (error: ServerError) => {
    assert.deepStrictEqual([error.details.location?.file, error.details.location?.line], [broken, 1]);
    return /Reload failed, serving the previous code: SyntaxError/.test(error.message);
  });
  assert.deepStrictEqual(server.supervisor.model().workers.map((w) => w.pid), after, 'the workers serve on');
  assert.strictEqual((await get(server.port, '/')).body.text, 'v1.5');
}

/** Uvicorn's TTIN and its respawn of a dead worker fork from the warm master too. */
async function scaleAndRespawnForked(server: TestServer): Promise<void> {
  const forked = server.supervisor.model().workers;
  await server.supervisor.scale(4);
  const scaled = server.supervisor.model().workers;
  assert.deepStrictEqual(scaled.map((w) => w.state), Array(4).fill('ready'));
  const added = scaled.find((w) => !forked.some((f) => f.pid === w.pid))!;
  assert.ok(!commandLine(added.pid).includes('--multiprocessing-fork'), 'a worker added by scaling is forked');

  process.kill(added.pid, 'SIGKILL');
  await eventually('the killed worker to be respawned', () => {
    const workers = server.supervisor.model().workers;
    return workers.length === 4 && workers.every((w) => w.state === 'ready' && w.pid !== added.pid);
  }, 30000);
  const respawned = server.supervisor.model().workers.find((w) => !scaled.some((s) => s.pid === w.pid))!;
  assert.ok(!commandLine(respawned.pid).includes('--multiprocessing-fork'), 'a respawned worker is forked');
}

describe('servers that restart to reload', { timeout: 120000 }, () => {
  it('gunicorn --preload: says once that a reload restarts it, restarts with the new code, and not with code that does not import', async () => {
    const { server, folder, events } = await started({ args: ['--preload'] });
    const model = server.supervisor.model();
    assert.strictEqual(model.reload.method, 'restart');
    assert.match(model.reload.restartBecause ?? '', /--preload/);
    const announce = (l: string) => l.startsWith('── reload: Gunicorn loads the app in its master (--preload / preload_app)');
    assert.strictEqual(masterLines(server).filter(announce).length, 1, 'said in the master\'s channel');

    writeBrokenVersion(folder);
    await assert.rejects(server.supervisor.reload(), /SyntaxError/);
    assert.strictEqual(server.supervisor.model().master?.pid, model.master!.pid, 'not restarted: the import check failed');
    assert.strictEqual((await get(server.port, '/')).body.text, 'v0');

    writeVersion(folder, 'v1');
    await server.supervisor.reload();
    const restarted = server.supervisor.model();
    assert.notStrictEqual(restarted.master?.pid, model.master!.pid, 'a full restart');
    assert.deepStrictEqual(restarted.workers.map((w) => w.generation), [2, 2, 2], 'the generation goes on counting');
    assert.strictEqual((await get(server.port, '/')).body.text, 'v1');
    assert.strictEqual(masterLines(server).filter(announce).length, 1, 'said once');
    assert.deepStrictEqual(events.map((e) => [e.type, e.method]), [['started', 'restart'], ['failed', 'restart'], ['started', 'restart'], ['reloaded', 'restart']]);
    await stopAndCheck(server);
  });

  it('uvicorn before 0.30 restarts, and says why', async () => {
    const { server, folder } = await started({ server: 'uvicorn', workers: 2, python: oldUvicornPython });
    assert.match(server.supervisor.model().reload.restartBecause ?? '', /Uvicorn before 0\.30/);
    writeVersion(folder, 'v1');
    await server.supervisor.reload();
    assert.strictEqual((await get(server.port, '/')).body.text, 'v1');
    await stopAndCheck(server);
  });
});
