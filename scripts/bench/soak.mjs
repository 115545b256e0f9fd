// The soak (`npm run bench -- --soak [MINUTES]`, default 10; not in CI): one server under the core for MINUTES,
// with a steady request load (its own process, scripts/bench/soakLoad.mjs) and, all the while:
//   a random worker SIGKILLed every 2 s (from outside, as the OOM killer would; while a bad save is on disk, not the
//   last two ready workers: a killed worker's replacement imports the bad code and fails, as it would for anyone),
//   a scale up or down every 10 s, a save every 30 s (through the supervisor, one after the other): in turn good code
//   (a reload) and code that exits (sys.exit), exits 0 (os._exit(0)) or hangs at import, which must be refused with
//   the old workers serving on (scripts/bench/soakSaves.mjs),
//   a log flood burst every minute (one request whose worker writes 50,000 lines).
// Reports: requests failed other than those in flight on a killed worker (target 0), lines lost (0), this
// process's RSS and open file descriptors at the start and the end (growth < 5 MB, 0 fds), the model equal to
// /proc at every check, every bad save refused, nothing left after the final stop.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { children, delay, MB, repoRoot, round, startCoreServer } from './lib.mjs';
import { saveAndReload, soakFolder } from './soakSaves.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

export const SOAK_DEFAULTS = {
  workers: 4,
  /** The scale steps go round these counts. */
  scaleSteps: [5, 6, 5, 4, 3, 4],
  killEveryMs: 2000,
  scaleEveryMs: 10000,
  reloadEveryMs: 30000,
  /** What each save writes, in turn (soakSaves.mjs); the bad ones are refused. */
  saves: ['good', 'exit', 'good', 'exit0', 'good', 'hang'],
  /** The server's reload timeout: a hanging save is refused after this many seconds. */
  reloadTimeout: 15,
  /** While a bad save is on disk, the SIGKILLs spare this many last ready workers (their replacements would fail). */
  sparedDuringBadSave: 2,
  floodEveryMs: 60000,
  floodLines: 50000,
  checkEveryMs: 10000,
  lanes: 6,
  pauseMs: 20,
  /** Past this many lines a channel only trims: the warm-up fills every channel to it before the start is measured. */
  channelFullLines: 40000,
};

const openFds = () => fs.readdirSync('/proc/self/fd').length;

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function commandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The model's live workers are the master's worker children in /proc; undefined when equal, else what differs. */
function modelVersusProc(model) {
  if (model.state !== 'running' || !model.master) return `state ${model.state}`;
  const live = [...model.workers, ...model.retiring].filter((w) => w.state !== 'exited').map((w) => w.pid).sort((a, b) => a - b);
  const inProc = children(model.master.pid).filter((pid) => alive(pid) && !commandLine(pid).includes('resource_tracker')).sort((a, b) => a - b);
  if (model.workers.some((w) => w.state !== 'ready')) return `not every worker ready: ${model.workers.map((w) => w.state).join(' ')}`;
  return live.join() === inProc.join() ? undefined : `model ${live.join(' ')} / proc ${inProc.join(' ')}`;
}

function getJson(port, pathname) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/**
 * Room for this many request ids. The soak's own bookkeeping lives in the measured process: typed arrays, filled
 * (so resident) before the start is measured, keep it from growing with the number of requests.
 */
const MAX_REQUESTS = 4_000_000;

/** Every line of the server's workers, joined where a line came in pieces (see OutputEvent.partial). */
class LineLedger {
  requestLines = new Int32Array(MAX_REQUESTS).fill(0); // request id -> pid that wrote its line (0: none yet)
  floodLines = new Map(); // burst -> lines seen
  lines = 0;
  open = new Map();

  take(event) {
    if (event.marker) return;
    const key = `${event.slot}/${event.pid}/${event.stream ?? ''}`;
    const last = event.lines.length - 1;
    event.lines.forEach((line, i) => {
      let text = line;
      if (i === 0 && event.continues) {
        text = (this.open.get(key) ?? '') + line;
        this.open.delete(key);
      }
      if (i === last && event.partial) this.open.set(key, text);
      else this.count(text);
    });
  }

  count(text) {
    this.lines++;
    if (text.startsWith('soak-req ')) {
      const [, id, pid] = text.split(' ');
      if (Number(id) < MAX_REQUESTS) this.requestLines[Number(id)] = Number(pid);
    } else if (text.startsWith('soak-flood ')) {
      const burst = Number(text.split(' ')[1]);
      this.floodLines.set(burst, (this.floodLines.get(burst) ?? 0) + 1);
    }
  }
}

/** The load process; `answered` (id -> pid) and `failed` fill as it reports. */
function startLoad(port, cfg) {
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'bench', 'soakLoad.mjs'), String(port), String(cfg.lanes), String(cfg.pauseMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const load = { child, answered: new Uint8Array(MAX_REQUESTS).fill(0), answeredCount: 0, failed: [], done: undefined };
  const finished = new Promise((resolve) => child.once('close', resolve));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const value = JSON.parse(line);
    if (Array.isArray(value)) {
      if (value[0] < MAX_REQUESTS) load.answered[value[0]] = 1;
      load.answeredCount++;
    }
    else if (value.done) load.done = value.done;
    else load.failed.push(value);
  });
  load.stop = async () => {
    child.stdin.end();
    await finished;
  };
  return load;
}

/**
 * This process's memory, settled: five samples a second apart, each after a full collection; the smallest RSS (a
 * single sample catches whatever a read or a flush holds at that instant), and what V8 and the Buffers hold then.
 */
async function memory() {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await delay(1000);
    gc();
    gc();
    samples.push(process.memoryUsage());
  }
  const least = samples.reduce((a, b) => (b.rss < a.rss ? b : a));
  return { rssMB: least.rss / MB, heapUsedMB: least.heapUsed / MB, heapTotalMB: least.heapTotal / MB, externalMB: least.external / MB, fds: openFds() };
}

export async function soak(core, cfg, log) {
  const saveFolder = soakFolder();
  const server = await startCoreServer(core, { app: 'soak_app:app', cwd: saveFolder.folder, workers: cfg.workers, reloadTimeout: cfg.reloadTimeout });
  const supervisor = server.supervisor;
  const ledger = new LineLedger();
  const offOutput = supervisor.onOutput.on((event) => ledger.take(event));
  const seenPids = new Set();
  const offChange = supervisor.onDidChange.on((model) => {
    if (model.master) seenPids.add(model.master.pid);
    for (const w of [...model.workers, ...model.retiring]) seenPids.add(w.pid);
  });
  const kills = []; // { pid, at }
  const operations = []; // { kind, target?, ms, error? }
  const checks = { done: 0, mismatches: [] };
  const refusals = []; // { kind, message }
  const floods = []; // { burst, ok, pid, n, error }
  let load;
  let stopped = false;
  try {
    // Warm-up: every channel a worker can have is filled to the point where it only trims, so that what the
    // channels keep (bounded) does not count as growth.
    const maxWorkers = Math.max(...cfg.scaleSteps);
    await supervisor.scale(maxWorkers);
    for (let burst = -1, rounds = 0; rounds < 60; rounds++, burst--) {
      const short = supervisor.model().workers.filter((w) => server.channels.lineCount(server.name, w.slot) < cfg.channelFullLines);
      if (short.length === 0) break;
      await getJson(server.port, `/flood?burst=${burst}&n=${cfg.channelFullLines + 5000}`);
      await delay(200);
    }
    await supervisor.scale(cfg.workers);
    load = startLoad(server.port, cfg);
    await delay(10000);
    const start = await memory();
    log(`start: RSS ${round(start.rssMB)} MB, ${start.fds} fds; soaking for ${cfg.minutes} min`);

    const began = Date.now();
    const endAt = began + cfg.minutes * 60000;
    let nextKill = began + cfg.killEveryMs;
    let nextFlood = began + cfg.floodEveryMs;
    let step = 0;
    let saves = 0;
    let badSaveOnDisk = false;
    let burst = 0;
    let minuteLogged = 0;
    const pending = [];

    // Kills and floods on their own clocks; scales, reloads and checks one after the other.
    const chaos = (async () => {
      while (Date.now() < endAt) {
        await delay(50);
        if (Date.now() >= nextKill) {
          nextKill += cfg.killEveryMs;
          const ready = supervisor.model().workers.filter((w) => w.state === 'ready');
          // While a bad save is on disk a killed worker's replacement imports it and fails: the last ones are spared.
          const victim = badSaveOnDisk && ready.length <= cfg.sparedDuringBadSave ? undefined : ready[Math.floor(Math.random() * ready.length)];
          if (victim) {
            try {
              process.kill(victim.pid, 'SIGKILL');
              kills.push({ pid: victim.pid, at: Date.now() });
            } catch {
              // it was exiting anyway
            }
          }
        }
        if (Date.now() >= nextFlood) {
          nextFlood += cfg.floodEveryMs;
          const id = ++burst;
          pending.push(getJson(server.port, `/flood?burst=${id}&n=${cfg.floodLines}`).then(
            (body) => floods.push({ burst: id, ok: true, pid: body.pid, n: body.n }),
            (error) => floods.push({ burst: id, ok: false, error: error.message, at: Date.now() }),
          ));
        }
      }
    })();
    const operate = async (kind, run) => {
      const t0 = Date.now();
      try {
        await run();
        operations.push({ kind, at: t0, ms: Date.now() - t0 });
      } catch (error) {
        const model = supervisor.model();
        const rows = [...model.workers.map((w) => `${w.slot}:${w.pid}:${w.state}`), ...model.retiring.map((w) => `retiring ${w.pid}:${w.state}`)].join(' ');
        const inProc = model.master ? children(model.master.pid).filter(alive).join(' ') : '';
        operations.push({ kind, at: t0, ms: Date.now() - t0, error: error.message, model: rows, proc: inProc });
        log(`${kind} failed: ${error.message} (state ${model.state}; model ${rows}; /proc ${inProc})`);
      }
    };
    const check = async () => {
      let difference;
      const deadline = Date.now() + 3000;
      while ((difference = modelVersusProc(supervisor.model())) !== undefined && Date.now() < deadline) await delay(50);
      checks.done++;
      if (difference !== undefined) checks.mismatches.push({ at: Date.now() - began, difference });
    };
    let nextScale = began + cfg.scaleEveryMs;
    let nextReload = began + cfg.reloadEveryMs;
    let nextCheck = began + cfg.checkEveryMs;
    while (Date.now() < endAt) {
      await delay(50);
      if (Date.now() >= nextReload) {
        nextReload += cfg.reloadEveryMs;
        const kind = cfg.saves[saves++ % cfg.saves.length];
        badSaveOnDisk = kind !== 'good';
        await operate(kind === 'good' ? 'reload' : `refused save (${kind})`, async () => {
          const refusal = await saveAndReload(supervisor, saveFolder.folder, kind, saves);
          if (refusal) refusals.push({ kind, message: refusal });
        }).finally(() => (badSaveOnDisk = false));
        await check();
      } else if (Date.now() >= nextScale) {
        nextScale += cfg.scaleEveryMs;
        const target = cfg.scaleSteps[step++ % cfg.scaleSteps.length];
        const shrinks = target < supervisor.model().desiredWorkers;
        await operate(`scale to ${target}`, () => supervisor.scale(target));
        if (shrinks) operations[operations.length - 1].shrinks = true;
        await check();
      } else if (Date.now() >= nextCheck) {
        nextCheck += cfg.checkEveryMs;
        await check();
      }
      const minute = Math.floor((Date.now() - began) / 60000);
      if (minute > minuteLogged) {
        minuteLogged = minute;
        log(`${minute} min: ${load.answeredCount} requests answered, ${load.failed.length} failed, ${kills.length} kills, ${operations.length} operations (${refusals.length} saves refused), ${checks.mismatches.length} mismatches`);
      }
    }
    await chaos;
    await Promise.all(pending);
    await load.stop();
    await check();
    await delay(2000); // the last lines on their way
    const end = await memory();

    // ---- the ledger -------------------------------------------------------------------------------------------
    // A failed request is explained when the worker that served it (its line names it) was SIGKILLed meanwhile;
    // one that never reached the app (no line), when a worker was SIGKILLed meanwhile, or when workers were
    // retiring (a reload, a scale down): Uvicorn's graceful shutdown closes the connections it has accepted but
    // not read yet (h11_impl.shutdown: no request cycle -> transport.close()), and the client sees a reset.
    const killedPids = new Map(kills.map((k) => [k.pid, k.at]));
    const retiring = operations.filter((o) => o.kind === 'reload' || o.shrinks).map((o) => [o.at, o.at + o.ms + 100]);
    const during = (f, [from, to]) => f.t1 >= from && f.t0 <= to;
    const failures = { killed: 0, retiring: 0, unexplained: [] };
    for (const f of load.failed) {
      const pid = ledger.requestLines[f.id] || undefined;
      if (pid !== undefined ? killedPids.get(pid) >= f.t0 - 100 && killedPids.get(pid) <= f.t1 + 100 : kills.some((k) => k.at >= f.t0 - 100 && k.at <= f.t1 + 100)) failures.killed++;
      else if (pid === undefined && retiring.some((window) => during(f, window))) failures.retiring++;
      else failures.unexplained.push(f);
    }
    const requestLinesLost = [];
    for (let id = 1; id < MAX_REQUESTS; id++) if (load.answered[id] === 1 && ledger.requestLines[id] === 0) requestLinesLost.push(id);
    const floodsAnswered = floods.filter((f) => f.ok);
    const floodLinesLost = floodsAnswered.reduce((sum, f) => sum + (f.n - (ledger.floodLines.get(f.burst) ?? 0)), 0);
    const floodsFailed = floods.filter((f) => !f.ok);

    // ---- the final stop ---------------------------------------------------------------------------------------
    const masterPid = supervisor.pid;
    await server.stop();
    stopped = true;
    const left = [...seenPids].filter(alive);
    const groupLeft = masterPid === undefined ? [] : fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === masterPid && alive(pid);
      } catch {
        return false;
      }
    });

    return {
      setup: { app: 'test/fixtures/bench/soak_app.py', ...cfg },
      minutes: (Date.now() - began) / 60000,
      requests: { sent: load.done?.sent, answered: load.answeredCount, failed: load.failed.length, failedOnKilled: failures.killed, resetByRetiring: failures.retiring, failedUnexplained: failures.unexplained.length, unexplained: failures.unexplained.slice(0, 20) },
      kills: kills.length,
      operations: {
        scales: operations.filter((o) => o.kind.startsWith('scale')).length,
        reloads: operations.filter((o) => o.kind === 'reload').length,
        badSaves: operations.filter((o) => o.kind.startsWith('refused save')).length,
        refusals,
        failed: operations.filter((o) => o.error),
        slowestMs: Math.max(0, ...operations.map((o) => o.ms)),
      },
      floods: { bursts: floods.length, answered: floodsAnswered.length, failed: floodsFailed },
      lines: { counted: ledger.lines, requestLinesLost: requestLinesLost.length, floodLinesLost, lost: requestLinesLost.length + floodLinesLost, lostIds: requestLinesLost.slice(0, 20) },
      timeline: { operations: operations.map((o) => ({ kind: o.kind, at: o.at, ms: o.ms })), kills },
      memory: { start, end, rssGrowthMB: end.rssMB - start.rssMB, heapGrowthMB: end.heapUsedMB - start.heapUsedMB, fdGrowth: end.fds - start.fds },
      checks: { done: checks.done, mismatches: checks.mismatches },
      leftAfterStop: [...new Set([...left, ...groupLeft])],
      workersSeen: seenPids.size,
    };
  } finally {
    offOutput();
    offChange();
    if (load && load.child.exitCode === null) await load.stop();
    if (!stopped) await server.stop();
    saveFolder.remove();
  }
}

/** The soak's rows of the benchmark's table. */
export function soakRows(result, fmt) {
  const rows = [];
  const add = (figure, value, target = '', ok = null) => rows.push({ section: 'soak', figure, value, target, ok });
  if (result.error) {
    add('not measured', result.error.split('\n')[0].slice(0, 160), '', false);
    return rows;
  }
  const r = result;
  add(`${fmt(r.minutes, 1)} min: requests answered · failed in flight on a killed worker · reset unread by a retiring worker · failed otherwise`, `${fmt(r.requests.answered, 0)} · ${fmt(r.requests.failedOnKilled, 0)} · ${fmt(r.requests.resetByRetiring, 0)} · ${fmt(r.requests.failedUnexplained, 0)}`, '0 otherwise', r.requests.failedUnexplained === 0);
  add('worker SIGKILLs · scales · reloads · flood bursts (operations failed)', `${r.kills} · ${r.operations.scales} · ${r.operations.reloads} · ${r.floods.bursts} (${r.operations.failed.length})`, '0 failed', r.operations.failed.length === 0);
  const refusedBy = (kind) => r.operations.refusals.filter((f) => f.kind === kind).length;
  add('saves that exit · exit 0 · hang at import: refused of saved', `${refusedBy('exit')} · ${refusedBy('exit0')} · ${refusedBy('hang')} of ${r.operations.badSaves}`, 'all refused', r.operations.refusals.length === r.operations.badSaves);
  add('lines counted · lost', `${fmt(r.lines.counted, 0)} · ${fmt(r.lines.lost, 0)}`, '0 lost', r.lines.lost === 0);
  add('supervising process RSS start → end (V8 heap used · Buffers)', `${fmt(r.memory.start.rssMB, 1)} → ${fmt(r.memory.end.rssMB, 1)} MB (${fmt(r.memory.start.heapUsedMB, 1)} → ${fmt(r.memory.end.heapUsedMB, 1)} · ${fmt(r.memory.start.externalMB, 1)} → ${fmt(r.memory.end.externalMB, 1)})`, 'growth < 5 MB', r.memory.rssGrowthMB < 5);
  add('open file descriptors start → end', `${r.memory.start.fds} → ${r.memory.end.fds}`, 'growth 0', r.memory.fdGrowth <= 0);
  add('model equal to /proc: checks · mismatches', `${r.checks.done} · ${r.checks.mismatches.length}`, '0 mismatches', r.checks.mismatches.length === 0);
  add('processes left after the final stop', String(r.leftAfterStop.length), '0', r.leftAfterStop.length === 0);
  return rows;
}
