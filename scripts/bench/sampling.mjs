// Section 5, sampling cost: the supervisor's stats sampler (CPU % and RSS of master and workers from /proc, at the
// extension's default interval of 1 s) with many workers. Each call of the sampler is timed (CPU time of this
// process and wall time); the figure is the CPU time it uses per second, as a share of one core.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { benchFixtures, delay, startCoreServer, summary } from './lib.mjs';

export async function sampling(core, cfg, log) {
  log(`starting ${cfg.workers} workers`);
  const startedAt = Date.now();
  const server = await startCoreServer(core, { app: 'log_app:app', cwd: benchFixtures, workers: cfg.workers });
  const bootSeconds = (Date.now() - startedAt) / 1000;
  const supervisor = server.supervisor;
  const calls = [];
  try {
    // The idle state, not the boot's aftermath: V8 collects what the boot allocated some seconds after it ends.
    await delay(cfg.settleSeconds * 1000);
    // The sampler is the run's sampleStats() (ServerRun, the supervisor's current run): its timer calls
    // this.sampleStats(), so an own property wraps it; it ends in the supervisor's model snapshot, timed with it.
    const run = supervisor.run;
    const original = run?.sampleStats;
    if (typeof original !== 'function') throw new Error('ServerRun.sampleStats is gone: update scripts/bench/sampling.mjs');
    run.sampleStats = function timedSampleStats(...args) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const cpu = process.cpuUsage(cpu0);
        calls.push({ cpuUs: cpu.user + cpu.system, wallUs: (performance.now() - t0) * 1000 });
      }
    };
    log(`timing the sampler for ${cfg.seconds} s`);
    // What else the process did meanwhile: the models published (one per change) and V8's garbage collections.
    let modelChanges = 0;
    const offChange = supervisor.onDidChange.on(() => modelChanges++);
    const gcs = [];
    const gcObserver = new PerformanceObserver((list) => gcs.push(...list.getEntries().map((e) => ({ ms: e.duration, kind: e.detail?.kind }))));
    gcObserver.observe({ entryTypes: ['gc'] });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await delay(cfg.seconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    const elapsedS = (performance.now() - t0) / 1000;
    gcObserver.disconnect();
    offChange();
    delete run.sampleStats;
    const sampled = supervisor.model();
    const cpuPerCall = summary(calls.map((c) => c.cpuUs));
    const callsPerSecond = calls.length / elapsedS;
    return {
      setup: { app: 'test/fixtures/bench/log_app.py', server: 'gunicorn + uvicorn_worker.UvicornWorker', statsIntervalMs: 1000, ...cfg },
      bootSeconds,
      processes: sampled.workers.length + 1,
      workersWithRss: sampled.workers.filter((w) => w.rssBytes > 0).length,
      calls: calls.length,
      cpuUsPerCall: cpuPerCall,
      wallUsPerCall: summary(calls.map((c) => c.wallUs)),
      // CPU time per second of wall time: the sampler's calls, and this whole (otherwise idle) process.
      samplerPercentOfCore: (calls.reduce((sum, c) => sum + c.cpuUs, 0) / 1e6 / elapsedS) * 100,
      processPercentOfCore: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
      callsPerSecond,
      modelChangesPerSecond: modelChanges / elapsedS,
      garbageCollections: { count: gcs.length, ms: gcs.reduce((sum, g) => sum + g.ms, 0), kinds: gcs.map((g) => g.kind) },
    };
  } finally {
    await server.stop();
  }
}
