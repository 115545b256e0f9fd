// Section 1, throughput: the example app (examples/fastapi, main:app) with access logging on, under autocannon in
// its own process, started five ways and loaded in turn, the order rotating each round (no mode is always first):
//   a   direct: the same argv, output to /dev/null;
//   b   core:   under the Supervisor with the agent and the output channels' batching (the extension's pipeline),
//               request insight off;
//   b'  core with request insight on (the extension's default): what counting every request costs;
//   c   pipe:   output on plain pipes drained by this Node process (what a VS Code terminal does);
//   d   PM2:    the same argv under PM2 (its daemon writes the output to its log files), the peer users pick instead.
// The servers run side by side for the whole section (those not loaded are idle), so each round's trials are
// seconds apart. What judges the cost is the CPU each mode spends per request, from /proc and this process's own
// clock: the server's processes, plus the supervising process's CPU over the harness's (mode a's: this process does
// nothing else then); b/a, b'/a, b/c and d/a of it round by round. Requests/s and their ratios are shown beside them:
// on a machine of 2 cores where the server, the load and the supervisor share both, they move with any other
// process (16 quiet rounds spread 0.70 to 1.46), while CPU per request does not depend on the share each got. Each
// trial also measures the CPU that other processes took meanwhile; the throughput ratios are summarised over the
// rounds where that stayed under QUIET_CORES (all rounds are in the JSON).
import * as path from 'node:path';
import { fastapiExample, machineCpuSeconds, repoRoot, runNodeJson, startCoreServer, startPlainServer, summary, treeCpuSeconds } from './lib.mjs';
import { startPm2Server } from './pm2.mjs';

export const MODES = ['a', 'b', 'bi', 'c', 'd'];
/** How the report names each mode. */
export const MODE_LABELS = { a: 'a', b: 'b', bi: "b'", c: 'c', d: 'd' };
const RATIOS = { ratioBA: ['b', 'a'], ratioBiA: ['bi', 'a'], ratioBiB: ['bi', 'b'], ratioBC: ['b', 'c'], ratioDA: ['d', 'a'] };
/** The same pairs, of CPU per request (the machine's CPU a request costs under each mode; lower is better). */
const CPU_RATIOS = { cpuRatioBA: ['b', 'a'], cpuRatioBiA: ['bi', 'a'], cpuRatioBC: ['b', 'c'], cpuRatioDA: ['d', 'a'] };
/** A trial is quiet when other processes (and the hypervisor's steal) took less than this many cores on average. */
const QUIET_CORES = 0.15;

/** The ratios of the rounds whose two trials were both quiet; all rounds when fewer than 3 were. */
function ratios(rounds, ratio, x, y) {
  const quiet = rounds.filter((r) => r[x].foreignCores + r[x].stealCores < QUIET_CORES && r[y].foreignCores + r[y].stealCores < QUIET_CORES);
  const used = quiet.length >= 3 ? quiet : rounds;
  return { ...summary(used.map((r) => r[ratio])), quietRounds: quiet.length, usedQuietOnly: used === quiet, all: summary(rounds.map((r) => r[ratio])) };
}

function cpuSecondsOf(core, pid) {
  return pid ? core.readProcStat(pid)?.cpuSeconds ?? 0 : 0;
}

async function trial(core, cfg, server, masterPid) {
  const cpu0 = process.cpuUsage();
  const serverCpu0 = treeCpuSeconds(core, masterPid);
  const daemonCpu0 = cpuSecondsOf(core, server.daemonPid);
  const machine0 = machineCpuSeconds();
  const started = Date.now();
  const load = await runNodeJson(path.join(repoRoot, 'scripts', 'bench', 'load.mjs'), [
    `http://127.0.0.1:${server.port}/`, String(cfg.connections), String(cfg.seconds), String(cfg.warmupSeconds), String(cfg.reconnectEvery),
  ]);
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = treeCpuSeconds(core, masterPid) - serverCpu0;
  const daemonCpu = cpuSecondsOf(core, server.daemonPid) - daemonCpu0;
  const machine = machineCpuSeconds();
  const wall = (Date.now() - started) / 1000;
  const nodeCpu = (cpu.user + cpu.system) / 1e6;
  // CPU that neither the server, the load, this process nor PM2's daemon used (other processes on the machine), and steal.
  const foreign = machine.busy - machine0.busy - serverCpu - load.cpuSeconds - nodeCpu - daemonCpu;
  const served = load.requests * (1 + cfg.warmupSeconds / cfg.seconds); // the warm-up's requests are in the CPU figures too
  return {
    rps: load.rps,
    requests: load.requests,
    errors: load.errors + load.timeouts + load.non2xx,
    latencyP99Ms: load.latencyP99Ms,
    // CPU of this Node process (the supervisor in b and b', the pipe reader in c; idle in a and d) and of the server's processes
    nodeCpuUsPerRequest: (nodeCpu * 1e6) / served,
    serverCpuUsPerRequest: (serverCpu * 1e6) / served,
    // PM2's daemon (d only)
    daemonCpuUsPerRequest: (daemonCpu * 1e6) / served,
    // in cores (1 = one core busy the whole trial)
    foreignCores: Math.max(0, foreign) / wall,
    stealCores: (machine.steal - machine0.steal) / wall,
  };
}

export async function throughput(core, cfg, log) {
  const base = { app: 'main:app', cwd: fastapiExample, workers: cfg.workers, args: ['--access-logfile', '-'] };
  const servers = {};
  const stops = [];
  try {
    log(`starting the example app five ways (${cfg.workers} workers each)`);
    const starts = {
      a: () => startPlainServer(core, { ...base, output: 'null' }),
      b: () => startCoreServer(core, { ...base, insight: false }),
      bi: () => startCoreServer(core, { ...base, insight: true }),
      c: () => startPlainServer(core, { ...base, output: 'pipe' }),
      d: () => startPm2Server(core, base),
    };
    for (const mode of MODES) {
      servers[mode] = await starts[mode]();
      stops.push(servers[mode]);
    }
    const masterOf = (mode) => (servers[mode].supervisor ? servers[mode].supervisor.pid : servers[mode].pid);

    const rounds = [];
    for (let round = 1; round <= cfg.rounds; round++) {
      const results = {};
      for (const mode of MODES.map((_, i) => MODES[(i + round - 1) % MODES.length])) results[mode] = await trial(core, cfg, servers[mode], masterOf(mode));
      const row = { round, ...results };
      for (const [name, [x, y]] of Object.entries(RATIOS)) row[name] = results[x].rps / results[y].rps;
      // The supervising process's own CPU per request: this process's over mode a's in the same round (the harness,
      // the idle servers' ticks), then the machine's CPU per request of each mode.
      for (const mode of MODES) results[mode].supervisorCpuUsPerRequest = Math.max(0, results[mode].nodeCpuUsPerRequest - results.a.nodeCpuUsPerRequest);
      for (const mode of MODES) results[mode].cpuUsPerRequest = results[mode].serverCpuUsPerRequest + results[mode].supervisorCpuUsPerRequest + results[mode].daemonCpuUsPerRequest;
      for (const [name, [x, y]] of Object.entries(CPU_RATIOS)) row[name] = results[x].cpuUsPerRequest / results[y].cpuUsPerRequest;
      rounds.push(row);
      const others = MODES.map((m) => (results[m].foreignCores + results[m].stealCores).toFixed(2)).join('/');
      log(`round ${round}/${cfg.rounds}: ${MODES.map((m) => `${MODE_LABELS[m]} ${results[m].rps.toFixed(0)}`).join(', ')} req/s; CPU per request b/a ${row.cpuRatioBA.toFixed(3)}, b'/a ${row.cpuRatioBiA.toFixed(3)}, supervisor b ${results.b.supervisorCpuUsPerRequest.toFixed(1)} µs; other load ${others} cores`);
    }

    // Every request's access line reached the output channels of b (the supervisor's count of channel lines).
    servers.b.channels.flush();
    const workers = servers.b.supervisor.model().workers;
    const accessLines = workers.reduce((sum, w) => sum + servers.b.channels.lineCount(servers.b.name, w.slot), 0);
    // b' counted every request it served (its workers' request insight).
    const insightServed = servers.bi.supervisor.model().workers.reduce((sum, w) => sum + (w.insight?.served ?? 0), 0);
    const perMode = (pick) => Object.fromEntries(MODES.map((m) => [m, summary(rounds.map((r) => pick(r[m])))]));
    return {
      setup: { app: 'examples/fastapi main:app', server: 'gunicorn + uvicorn_worker.UvicornWorker, --access-logfile -', modes: MODE_LABELS, ...cfg },
      rounds,
      rps: perMode((t) => t.rps),
      quietCores: QUIET_CORES,
      ...Object.fromEntries(Object.entries(RATIOS).map(([name, [x, y]]) => [name, ratios(rounds, name, x, y)])),
      ...Object.fromEntries(Object.keys(CPU_RATIOS).map((name) => [name, summary(rounds.map((r) => r[name]))])),
      supervisorCpuUsPerRequest: perMode((t) => t.supervisorCpuUsPerRequest),
      cpuUsPerRequest: perMode((t) => t.cpuUsPerRequest),
      foreignCores: summary(rounds.flatMap((r) => MODES.map((m) => r[m].foreignCores + r[m].stealCores))),
      nodeCpuUsPerRequest: perMode((t) => t.nodeCpuUsPerRequest),
      serverCpuUsPerRequest: perMode((t) => t.serverCpuUsPerRequest),
      // The workers' CPU per request with request insight on over off, round by round.
      insightCpuRatio: summary(rounds.map((r) => r.bi.serverCpuUsPerRequest / r.b.serverCpuUsPerRequest)),
      pm2DaemonCpuUsPerRequest: summary(rounds.map((r) => r.d.daemonCpuUsPerRequest)),
      errors: rounds.reduce((sum, r) => sum + MODES.reduce((s, m) => s + r[m].errors, 0), 0),
      coreChannelLines: accessLines,
      insightRequestsCounted: insightServed,
      pipeBytesDrained: servers.c.drained.bytes,
      pm2LogBytes: servers.d.logBytes(),
    };
  } finally {
    for (const server of stops.reverse()) await server.stop().catch(() => undefined);
  }
}
