// Sections 2 and 3: log latency and log flood, with test/fixtures/bench/log_app.py under the core (the Supervisor
// with the agent, the output channels' batching, the sink standing for VS Code's output channels).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { benchFixtures, delay, MB, nowMs, percentile, startCoreServer } from './lib.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

function goFile() {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'server-workers-bench-go-')), 'go');
}

function removeGo(file) {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

/** Section 2: each worker writes timestamped lines at a steady rate; latency = arrival at the sink − timestamp. */
export async function latency(core, sink, cfg, log) {
  const go = goFile();
  const perWorker = Math.round(cfg.rate * cfg.seconds);
  const server = await startCoreServer(core, {
    app: 'log_app:app',
    cwd: benchFixtures,
    workers: cfg.workers,
    env: { BENCH_GO: go, BENCH_MODE: 'latency', BENCH_LINES: String(perWorker), BENCH_RATE: String(cfg.rate) },
  });
  const samples = [];
  const prefix = `${server.name} · `;
  const off = sink.on((name, text, at) => {
    if (!name.startsWith(prefix)) return;
    for (const line of text.split('\n')) {
      if (!line.startsWith('lat ')) continue;
      samples.push(at - Number(line.slice(line.lastIndexOf(' ') + 1)) / 1e6);
    }
  });
  const expected = perWorker * cfg.workers;
  try {
    log(`${cfg.workers} workers × ${cfg.rate} timestamped lines/s for ${cfg.seconds} s`);
    await delay(300);
    fs.writeFileSync(go, '');
    const deadline = Date.now() + (cfg.seconds + 15) * 1000;
    while (samples.length < expected && Date.now() < deadline) await delay(50);
  } finally {
    off();
    await server.stop();
    removeGo(go);
  }
  const sorted = samples.sort((a, b) => a - b);
  return {
    setup: { app: 'test/fixtures/bench/log_app.py (BENCH_MODE=latency)', ...cfg },
    linesWritten: expected,
    linesReceived: samples.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    minMs: sorted[0],
  };
}

/**
 * Section 3: the workers write `cfg.lines` lines in all, as fast as they can. Counted where the supervisor emits
 * them (every line of a worker, in order) and where the output channels take them; the sink must see each
 * worker's last line. Memory: this process's RSS before the flood, its peak during, and after.
 */
export async function flood(core, sink, cfg, log) {
  const go = goFile();
  const perWorker = Math.floor(cfg.lines / cfg.workers);
  const written = perWorker * cfg.workers;
  const server = await startCoreServer(core, {
    app: 'log_app:app',
    cwd: benchFixtures,
    workers: cfg.workers,
    env: { BENCH_GO: go, BENCH_MODE: 'flood', BENCH_LINES: String(perWorker) },
  });
  const supervisor = server.supervisor;
  const slots = new Map(); // slot -> { pid, lines, nextSeq, outOfOrder, doneAt, sinkDoneAt }
  for (const worker of supervisor.model().workers) slots.set(worker.slot, { pid: worker.pid, lines: 0, nextSeq: 0, badLines: 0, doneAt: 0, sinkDoneAt: 0 });
  const offOutput = supervisor.onOutput.on((event) => {
    const slot = slots.get(event.slot);
    if (!slot || event.marker) return;
    for (const line of event.lines) {
      if (!line.startsWith('flood ')) continue;
      slot.lines++;
    }
    // Order and attribution, checked at each event's last line: its number is the count so far, its pid the slot's.
    const last = event.lines[event.lines.length - 1];
    if (last?.startsWith('flood ')) {
      const [, pid, seq] = last.split(' ', 3);
      if (Number(pid) !== slot.pid || Number(seq) !== slot.lines - 1) slot.badLines++;
    }
    if (slot.lines === perWorker && !slot.doneAt) slot.doneAt = nowMs();
  });
  const lastLines = new Map([...slots].map(([slot, s]) => [server.channelName(slot), `flood ${s.pid} ${perWorker - 1} `]));
  const offSink = sink.on((name, text, at) => {
    const want = lastLines.get(name);
    if (!want) return;
    const tail = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
    if (tail.startsWith(want)) {
      const slot = slots.get([...slots.keys()].find((s) => server.channelName(s) === name));
      slot.sinkDoneAt = at;
    }
  });

  let peakRss = 0;
  let atPeak;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    if (usage.rss > peakRss) {
      peakRss = usage.rss;
      atPeak = usage;
    }
  }, 20);
  let start;
  let before;
  let after;
  let afterGc;
  try {
    await delay(300);
    gc();
    before = process.memoryUsage();
    peakRss = before.rss;
    const baseChannelLines = new Map([...slots.keys()].map((slot) => [slot, server.channels.lineCount(server.name, slot)]));
    log(`${cfg.workers} workers × ${perWorker.toLocaleString('en-US')} lines, as fast as they can`);
    start = nowMs();
    fs.writeFileSync(go, '');
    let progress = 0;
    let progressAt = Date.now();
    for (;;) {
      const all = [...slots.values()];
      if (all.every((s) => s.sinkDoneAt)) break;
      const count = all.reduce((sum, s) => sum + s.lines, 0);
      if (count !== progress) {
        progress = count;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > cfg.stallMs) {
        log(`no progress for ${cfg.stallMs / 1000} s at ${count} lines: giving up`);
        break;
      }
      await delay(10);
    }
    after = process.memoryUsage();
    peakRss = Math.max(peakRss, after.rss);
    gc();
    afterGc = process.memoryUsage();
    const channelLines = [...slots.keys()].reduce((sum, slot) => sum + server.channels.lineCount(server.name, slot) - baseChannelLines.get(slot), 0);
    const all = [...slots.values()];
    const delivered = all.reduce((sum, s) => sum + s.lines, 0);
    const transportMs = Math.max(...all.map((s) => s.doneAt)) - start;
    const sinkMs = Math.max(...all.map((s) => s.sinkDoneAt)) - start;
    return {
      setup: { app: 'test/fixtures/bench/log_app.py (BENCH_MODE=flood)', ...cfg },
      linesWritten: written,
      linesDelivered: delivered,
      channelLines,
      outOfOrderEvents: all.reduce((sum, s) => sum + s.badLines, 0),
      lastLineReachedSink: all.every((s) => s.sinkDoneAt > 0),
      seconds: (all.every((s) => s.sinkDoneAt) ? sinkMs : nowMs() - start) / 1000,
      supervisorSeconds: all.every((s) => s.doneAt) ? transportMs / 1000 : null,
      linesPerSecond: delivered / ((all.every((s) => s.sinkDoneAt) ? sinkMs : nowMs() - start) / 1000),
      sink: sink.totals(`${server.name} · `),
      memoryMB: {
        rssBefore: before.rss / MB,
        rssPeak: peakRss / MB,
        rssAfter: after.rss / MB,
        rssAfterGc: afterGc.rss / MB,
        heapUsedBefore: before.heapUsed / MB,
        heapUsedAfterGc: afterGc.heapUsed / MB,
        // What the peak was made of: V8's heap (committed; its young generation grows under a flood of short-lived
        // strings) and memory outside it (the socket reads' Buffers).
        heapTotalAtPeak: (atPeak ?? after).heapTotal / MB,
        heapUsedAtPeak: (atPeak ?? after).heapUsed / MB,
        externalAtPeak: (atPeak ?? after).external / MB,
        growthPeak: (peakRss - before.rss) / MB,
        growthAfter: (after.rss - before.rss) / MB,
      },
    };
  } finally {
    clearInterval(sampler);
    offOutput();
    offSink();
    await server.stop();
    removeGo(go);
  }
}
