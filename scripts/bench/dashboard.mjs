// The dashboard section (issue 25): what the dashboard, the history and the metrics endpoint cost.
// - host: the extension host's CPU with the dashboard open on a server of many workers under load, beside the same
//   run without it (scripts/bench/dashboardHost.cjs, rounds alternated), and the size of what it posts;
// - page: the webview's CPU, the real page (dist/webview/dashboard.js) in headless Chromium fed the messages the host
//   posted in that run at their pace (Chrome's own busy time of its main thread, Performance.getMetrics);
// - ring: the bytes of one server's figure ring full of 64 workers x 15 minutes;
// - scrape: the Prometheus text of 64 workers (real pids: CPU seconds from /proc), and a GET /metrics on loopback.
// Registered in scripts/bench.mjs by one line; `rows` makes its lines of the table.

/* global window -- in the functions that run in the page */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { fastapiExample, freePort, median, python, repoRoot, runNodeJson, summary } from './lib.mjs';

const require = createRequire(import.meta.url);
const MB = 1024 * 1024;

export const section = {
  name: 'dashboard',
  config: {
    full: { workers: 16, rate: 200, seconds: 10, rounds: 4, pageSeconds: 10, ringWorkers: 64, ringSeconds: 900, scrapeWorkers: 64, scrapes: 200 },
    smoke: { workers: 2, rate: 20, seconds: 2, rounds: 1, pageSeconds: 2, ringWorkers: 64, ringSeconds: 900, scrapeWorkers: 4, scrapes: 10 },
  },
  async run(_core, cfg, log) {
    const parts = await coreParts();
    log(`the ring: ${cfg.ringWorkers} workers x ${cfg.ringSeconds} s`);
    const ring = ringBytes(parts, cfg);
    log(`one scrape of ${cfg.scrapeWorkers} workers, ${cfg.scrapes} times`);
    const scrape = await scrapes(parts, cfg);
    log(`the extension host with the dashboard open on ${cfg.workers} workers under ${cfg.rate} req/s, ${cfg.rounds} x ${cfg.seconds} s each way`);
    const record = path.join(repoRoot, 'out', 'bench', 'dashboard-messages.json');
    const host = await runNodeJson(path.join(repoRoot, 'scripts', 'bench', 'dashboardHost.cjs'),
      [path.join(repoRoot, 'dist', 'extension.js'), String(cfg.workers), String(cfg.seconds), String(cfg.rounds), python, fastapiExample, 'main:app', String(await freePort()), record, String(cfg.rate)],
      { timeoutMs: 300000 });
    log(`the page, fed ${cfg.pageSeconds} s of what the host posted`);
    const page = await pageCpu(record, cfg.pageSeconds);
    const extra = host.withPercent.map((value, i) => value - host.withoutPercent[i]);
    return { ring, scrape, host: { ...host, extraPercent: summary(extra) }, page };
  },
  rows(r, { add, fmt }) {
    const s = '9 dashboard';
    add(s, `extension host CPU with the dashboard open, ${r.host.workers} workers under load: beyond the same run without it (median [min–max] of ${r.host.extraPercent.n} rounds)`,
      `${fmt(r.host.extraPercent.median, 2)} [${fmt(r.host.extraPercent.min, 2)}–${fmt(r.host.extraPercent.max, 2)}] % of a core (without: ${fmt(median(r.host.withoutPercent), 2)} %)`, '< 2 %', r.host.extraPercent.median < 2);
    add(s, 'what the host posts: the reset, then each second', `${fmt(r.host.resetBytes / 1024, 1)} KB, then ${fmt(r.host.appendsPerSecond, 2)}/s of ${fmt(r.host.appendBytes / 1024, 2)} KB`);
    add(s, `the page's CPU (its main thread busy, Chromium), fed that run's messages for ${fmt(r.page.seconds, 0)} s`, `${fmt(r.page.percentOfCore, 2)} % of a core (${fmt(r.page.msPerMessage, 1)} ms per message)`);
    add(s, `the figure ring, ${r.ring.workers} workers x ${r.ring.seconds} s`, `${fmt(r.ring.bytes / MB, 2)} MB`, '< 8 MB', r.ring.bytes < 8 * MB);
    // On a shared machine the wall times wait for a CPU; the CPU a scrape uses is what it costs, and what is judged.
    add(s, `one scrape of ${r.scrape.workers} workers (its text, ${fmt(r.scrape.bytes / 1024, 0)} KB, CPU seconds from /proc): CPU per scrape (mean of ${r.scrape.n})`, `${fmt(r.scrape.textCpuMs, 2)} ms`, '< 5 ms', r.scrape.textCpuMs < 5);
    add(s, 'the same, wall time: the text (median · p99) · GET /metrics on loopback (median)', `${fmt(r.scrape.textMs.median, 2)} · ${fmt(r.scrape.textP99Ms, 2)} · ${fmt(r.scrape.httpMs.median, 2)} ms`);
  },
};

/** The history's ring and the metrics' writer and endpoint, bundled from src/ as the extension ships them. */
async function coreParts() {
  const { build } = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'dashboard-core.cjs');
  await build({
    stdin: {
      contents: [
        "export { FigureRing } from './src/core/history/figureRing';",
        "export { prometheusText } from './src/core/metrics/prometheusText';",
        "export { MetricsEndpoint } from './src/core/metrics/metricsEndpoint';",
        "export { CpuSecondsReader } from './src/core/metrics/cpuSeconds';",
      ].join('\n'),
      resolveDir: repoRoot,
      loader: 'ts',
    },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, logLevel: 'warning',
  });
  return require(outfile);
}

function ringBytes({ FigureRing }, cfg) {
  const ring = new FigureRing({ seconds: cfg.ringSeconds });
  const points = Array.from({ length: cfg.ringWorkers }, (_, i) => ({ pid: 10000 + i, slot: i + 1, requests: 12, status4xx: 1, status5xx: 0, p50Ms: 4.2, p99Ms: 38, inFlight: 1, cpuPercent: 7.5, rssBytes: 80 * MB }));
  for (let second = 0; second < cfg.ringSeconds * 2; second++) ring.append(second * 1000, 1000, points);
  return { workers: cfg.ringWorkers, seconds: cfg.ringSeconds, bytes: ring.bytes(), held: ring.size };
}

async function scrapes({ prometheusText, MetricsEndpoint, CpuSecondsReader }, cfg) {
  // Real processes, so that each worker's CPU seconds are read from /proc as a scrape does.
  const sleepers = Array.from({ length: cfg.scrapeWorkers }, () => spawn('sleep', ['600'], { stdio: 'ignore' }));
  try {
    const le = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    const workers = sleepers.map((child, i) => ({
      slot: i + 1, pid: child.pid, state: 'ready', startedAt: Date.now(), cpuPercent: 3, rssBytes: 80 * MB, restarts: 0, debugging: false, generation: 1,
      insight: { served: 1000 + i, rate: 12, p50Ms: 4, p99Ms: 40, latencyCount: 700, statuses: { '1xx': 0, '2xx': 990, '3xx': 0, '4xx': 8, '5xx': 2 }, exceptions: 2, inFlight: 1, requests: [],
        durations: { le, counts: [10, 50, 200, 300, 200, 150, 50, 20, 10, 5, 3, 2, 0, 0, 0, 0], sumSeconds: 42.5 } },
    }));
    const model = { id: 's', name: 'api', kind: 'gunicorn', state: 'running', url: '', desiredWorkers: workers.length, workers, retiring: [], incoming: [], reload: { onSave: false, generation: 1 } };
    const times = [];
    let bytes = 0;
    const cpu = new CpuSecondsReader(); // as the endpoint reads them
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < cfg.scrapes; i++) {
      const t0 = performance.now();
      bytes = prometheusText([model], (pid) => cpu.read(pid)).length;
      times.push(performance.now() - t0);
    }
    const used = process.cpuUsage(cpu0);
    cpu.close();
    const endpoint = await MetricsEndpoint.listen({ host: '127.0.0.1', port: 0 }, () => [model], 'bench');
    const agent = new http.Agent({ keepAlive: true });
    const httpTimes = [];
    try {
      for (let i = 0; i < cfg.scrapes; i++) {
        const t0 = performance.now();
        await new Promise((resolve, reject) => http.get(endpoint.url, { agent }, (response) => response.resume().on('end', resolve)).on('error', reject));
        httpTimes.push(performance.now() - t0);
      }
    } finally {
      agent.destroy();
      await endpoint.close();
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      workers: workers.length, n: times.length, bytes, textCpuMs: (used.user + used.system) / 1000 / times.length,
      textMs: summary(times), textP99Ms: sorted[Math.floor(sorted.length * 0.99)], httpMs: summary(httpTimes.slice(1)),
    };
  } finally {
    for (const child of sleepers) child.kill('SIGKILL');
  }
}

/** The real page in headless Chromium, given what the host posted at 1 message a second; its main thread's busy time. */
async function pageCpu(recordFile, seconds) {
  const { chromium } = await import('playwright-core');
  const { chromiumLaunchOptions } = await import('../lib/chromium.mjs');
  const messages = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
  const dir = path.join(repoRoot, 'out', 'bench', 'dashboard-page');
  fs.mkdirSync(dir, { recursive: true });
  const dist = path.join(repoRoot, 'dist', 'webview');
  fs.writeFileSync(path.join(dir, 'index.html'), `<!DOCTYPE html><html><head><meta charset="UTF-8"><link rel="stylesheet" href="file://${dist}/dashboard.css"></head>
<body class="vscode-dark" data-state='{"serverName":"api"}' style="width:1400px"><div id="dashboard"></div><script type="application/json" id="strings">{}</script>
<script>window.acquireVsCodeApi = () => ({ postMessage() {}, getState() { return undefined; }, setState() {} });</script>
<script src="file://${dist}/dashboard.js"></script></body></html>`);
  const browser = await chromium.launch(chromiumLaunchOptions({}));
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    await page.goto(`file://${dir}/index.html`);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const busy = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
    await page.evaluate((m) => window.postMessage(m, '*'), messages[0]);
    await page.waitForTimeout(1500);
    const appends = messages.slice(1);
    const start = await busy();
    const t0 = performance.now();
    const count = Math.min(seconds, appends.length); // each second the host posted, once (a second sent again is ignored)
    for (let i = 0; i < count; i++) {
      await page.evaluate((m) => window.postMessage(m, '*'), appends[i]);
      await page.waitForTimeout(Math.max(0, (i + 1) * 1000 - (performance.now() - t0)));
    }
    const elapsed = (performance.now() - t0) / 1000;
    const used = (await busy()) - start;
    return { seconds: elapsed, percentOfCore: (used / elapsed) * 100, msPerMessage: (used * 1000) / Math.max(1, count) };
  } finally {
    await browser.close();
  }
}

