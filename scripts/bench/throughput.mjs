// Section 1, throughput: the example app (examples/fastapi, main:app) with access logging on, under autocannon in
// its own process, started three ways and loaded in turn a, b, c, then b, c, a, then c, a, b, ... (no mode is
// always first in its round):
//   a  direct: the same argv, output to /dev/null;
//   b  core:   under the Supervisor with the agent and the output channels' batching (the extension's pipeline);
//   c  pipe:   output on plain pipes drained by this Node process (what a VS Code terminal does).
// The three servers run side by side for the whole section (the two that are not loaded are idle), so each
// round's a, b and c are measured seconds apart; the ratios b/a and b/c are taken round by round. The machine is
// shared: each trial also measures the CPU that other processes took meanwhile, and the ratios are summarised over
// the rounds where that stayed under QUIET_CORES (all rounds are in the JSON).
import * as path from 'node:path';
import { fastapiExample, machineCpuSeconds, repoRoot, runNodeJson, startCoreServer, startPlainServer, summary, treeCpuSeconds } from './lib.mjs';

const MODES = ['a', 'b', 'c'];
/** A trial is quiet when other processes (and the hypervisor's steal) took less than this many cores on average. */
const QUIET_CORES = 0.15;

/** The ratios of the rounds whose two trials were both quiet; all rounds when fewer than 3 were. */
function ratios(rounds, ratio, x, y) {
  const quiet = rounds.filter((r) => r[x].foreignCores + r[x].stealCores < QUIET_CORES && r[y].foreignCores + r[y].stealCores < QUIET_CORES);
  const used = quiet.length >= 3 ? quiet : rounds;
  return { ...summary(used.map((r) => r[ratio])), quietRounds: quiet.length, usedQuietOnly: used === quiet, all: summary(rounds.map((r) => r[ratio])) };
}

export async function throughput(core, cfg, log) {
  const base = { app: 'main:app', cwd: fastapiExample, workers: cfg.workers, args: ['--access-logfile', '-'] };
  const servers = {};
  const stops = [];
  try {
    log(`starting the example app three ways (${cfg.workers} workers each)`);
    servers.a = await startPlainServer(core, { ...base, output: 'null' });
    stops.push(servers.a);
    servers.b = await startCoreServer(core, base);
    stops.push(servers.b);
    servers.c = await startPlainServer(core, { ...base, output: 'pipe' });
    stops.push(servers.c);
    const masterOf = (mode) => (mode === 'b' ? servers.b.supervisor.pid : servers[mode].pid);

    const rounds = [];
    for (let round = 1; round <= cfg.rounds; round++) {
      const results = {};
      for (const mode of MODES.map((_, i) => MODES[(i + round - 1) % MODES.length])) {
        const cpu0 = process.cpuUsage();
        const serverCpu0 = treeCpuSeconds(core, masterOf(mode));
        const machine0 = machineCpuSeconds();
        const started = Date.now();
        const load = await runNodeJson(path.join(repoRoot, 'scripts', 'bench', 'load.mjs'), [
          `http://127.0.0.1:${servers[mode].port}/`,
          String(cfg.connections),
          String(cfg.seconds),
          String(cfg.warmupSeconds),
          String(cfg.reconnectEvery),
        ]);
        const cpu = process.cpuUsage(cpu0);
        const serverCpu = treeCpuSeconds(core, masterOf(mode)) - serverCpu0;
        const machine = machineCpuSeconds();
        const wall = (Date.now() - started) / 1000;
        // CPU that neither the server, the load nor this process used (other processes on the machine), and steal.
        const foreign = machine.busy - machine0.busy - serverCpu - load.cpuSeconds - (cpu.user + cpu.system) / 1e6;
        const served = load.requests * (1 + cfg.warmupSeconds / cfg.seconds); // the warm-up's requests are in the CPU figures too
        results[mode] = {
          rps: load.rps,
          requests: load.requests,
          errors: load.errors + load.timeouts + load.non2xx,
          latencyP99Ms: load.latencyP99Ms,
          // CPU of this Node process (the supervisor in b, the pipe reader in c; idle in a) and of the server's processes
          nodeCpuUsPerRequest: (cpu.user + cpu.system) / served,
          serverCpuUsPerRequest: (serverCpu * 1e6) / served,
          // in cores (1 = one core busy the whole trial)
          foreignCores: Math.max(0, foreign) / wall,
          stealCores: (machine.steal - machine0.steal) / wall,
        };
      }
      rounds.push({ round, ...results, ratioBA: results.b.rps / results.a.rps, ratioBC: results.b.rps / results.c.rps });
      const others = MODES.map((m) => (results[m].foreignCores + results[m].stealCores).toFixed(2)).join('/');
      log(`round ${round}/${cfg.rounds}: a ${results.a.rps.toFixed(0)}, b ${results.b.rps.toFixed(0)}, c ${results.c.rps.toFixed(0)} req/s; b/a ${(results.b.rps / results.a.rps).toFixed(3)}, b/c ${(results.b.rps / results.c.rps).toFixed(3)}; other load ${others} cores`);
    }

    // Every request's access line reached the output channels of b (the supervisor's count of channel lines).
    servers.b.channels.flush();
    const workers = servers.b.supervisor.model().workers;
    const accessLines = workers.reduce((sum, w) => sum + servers.b.channels.lineCount(servers.b.name, w.slot), 0);
    return {
      setup: { app: 'examples/fastapi main:app', server: 'gunicorn + uvicorn_worker.UvicornWorker, --access-logfile -', ...cfg },
      rounds,
      rps: Object.fromEntries(MODES.map((m) => [m, summary(rounds.map((r) => r[m].rps))])),
      quietCores: QUIET_CORES,
      ratioBA: ratios(rounds, 'ratioBA', 'a', 'b'),
      ratioBC: ratios(rounds, 'ratioBC', 'b', 'c'),
      foreignCores: summary(rounds.flatMap((r) => MODES.map((m) => r[m].foreignCores + r[m].stealCores))),
      nodeCpuUsPerRequest: Object.fromEntries(MODES.map((m) => [m, summary(rounds.map((r) => r[m].nodeCpuUsPerRequest))])),
      serverCpuUsPerRequest: Object.fromEntries(MODES.map((m) => [m, summary(rounds.map((r) => r[m].serverCpuUsPerRequest))])),
      errors: rounds.reduce((sum, r) => sum + MODES.reduce((s, m) => s + r[m].errors, 0), 0),
      coreChannelLines: accessLines,
      pipeBytesDrained: servers.c.drained.bytes,
    };
  } finally {
    for (const server of stops.reverse()) await server.stop().catch(() => undefined);
  }
}
