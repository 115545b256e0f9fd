// Section 4, reaction: how soon the model knows.
// - hello -> model event: the worker's agent sends its hello (timed inside the worker by
//   test/fixtures/bench/hello_hook/sitecustomize.py) until the supervisor fires onWorker 'up' for that pid;
// - SIGKILL -> events: this process kills a worker, then times the 'exit' event of the old pid and the 'up'
//   (respawn) and 'ready' events of its replacement in the same slot.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchFixtures, delay, nowMs, startCoreServer, summary } from './lib.mjs';

export async function reaction(core, cfg, log) {
  const helloDir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-workers-bench-hello-'));
  const events = new Map(); // pid -> { up, ready, exit, slot }
  const record = (pid, type, slot) => {
    const entry = events.get(pid) ?? {};
    entry[type] ??= nowMs();
    entry.slot = slot;
    events.set(pid, entry);
  };
  let server;
  try {
    server = await startCoreServer(core, {
      app: 'log_app:app',
      cwd: benchFixtures,
      workers: cfg.workers,
      env: { BENCH_HELLO_DIR: helloDir, PYTHONPATH: path.join(benchFixtures, 'hello_hook') },
      onCreate: (supervisor) => supervisor.onWorker.on(({ type, worker }) => record(worker.pid, type, worker.slot)),
    });
    const supervisor = server.supervisor;
    const kills = [];
    log(`${cfg.kills} SIGKILLs, one worker at a time`);
    for (let k = 0; k < cfg.kills; k++) {
      const slot = (k % cfg.workers) + 1;
      const victim = supervisor.model().workers.find((w) => w.slot === slot);
      if (!victim || victim.state !== 'ready') throw new Error(`no ready worker in slot ${slot}`);
      await delay(cfg.pauseMs);
      const killedAt = nowMs();
      process.kill(victim.pid, 'SIGKILL');
      const deadline = Date.now() + 30000;
      let replacement;
      for (;;) {
        replacement = supervisor.model().workers.find((w) => w.slot === slot && w.pid !== victim.pid && w.state === 'ready');
        if (replacement && events.get(victim.pid)?.exit) break;
        if (Date.now() > deadline) throw new Error(`worker ${slot} (pid ${victim.pid}) was not replaced within 30 s`);
        await delay(5);
      }
      const old = events.get(victim.pid);
      const fresh = events.get(replacement.pid);
      kills.push({
        slot,
        oldPid: victim.pid,
        newPid: replacement.pid,
        exitEventMs: old.exit - killedAt,
        respawnEventMs: fresh.up - killedAt,
        readyEventMs: fresh.ready - killedAt,
      });
    }
    const hellos = [];
    for (const [pid, entry] of events) {
      let sentNs;
      try {
        sentNs = Number(fs.readFileSync(path.join(helloDir, String(pid)), 'utf8'));
      } catch {
        continue; // no hello recorded (not a worker of this run)
      }
      if (entry.up !== undefined) hellos.push(entry.up - sentNs / 1e6);
    }
    return {
      setup: { app: 'test/fixtures/bench/log_app.py', server: 'gunicorn + uvicorn_worker.UvicornWorker', ...cfg },
      helloToModelMs: summary(hellos),
      sigkillToExitEventMs: summary(kills.map((k) => k.exitEventMs)),
      sigkillToRespawnEventMs: summary(kills.map((k) => k.respawnEventMs)),
      sigkillToReadyEventMs: summary(kills.map((k) => k.readyEventMs)),
      kills,
    };
  } finally {
    await server?.stop();
    fs.rmSync(helloDir, { recursive: true, force: true });
  }
}
