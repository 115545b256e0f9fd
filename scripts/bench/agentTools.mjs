// Section agentTools (issue 24): what the agent tools cost.
//   a  get_worker_logs asking for 2,000 lines (an answer stops at 64 KB, about 700 of these) from a history holding
//      1,000,000 (25 streams of 40,000: a master and 24 workers, each at its maximum), timed as the tool runs in the extension host and the MCP server (input check,
//      read, format): the newest lines, from a cursor in the middle (every stream, and one), and a grep.
//   b  `server-workers mcp` (dist/cli.js) running 8 busy workers (test/fixtures/bench/soak_app.py under a steady load
//      of requests, each writing a line), with and without an MCP client (the SDK's) that calls list_servers and
//      get_worker_logs (its cursor, 100 lines) every 200 ms: the MCP server process's CPU, rounds alternated.
// Registered in scripts/bench.mjs by one line (REGISTERED); it brings its configuration and its table rows.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchFixtures, delay, freePort, python, repoRoot, round, summary } from './lib.mjs';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const sdk = (file) => path.join(repoRoot, 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm', file);
const fmt = (value, digits = 1) => (typeof value === 'number' && Number.isFinite(value) ? round(value, digits).toLocaleString('en-US') : String(value));

/** The tools as both adapters run them (src/tools, with the core below), bundled by esbuild like the rest. */
async function loadTools() {
  const { build } = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'tools.cjs');
  await build({
    stdin: {
      contents: "export { invokeTool, findTool } from './src/tools';\nexport { Supervisor } from './src/core/supervisor';\nexport { resolveDefinition } from './src/core/definition';",
      resolveDir: repoRoot, loader: 'ts', sourcefile: 'bench-tools.ts',
    },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, logLevel: 'warning',
  });
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)(outfile);
}

async function readCost(cfg, log) {
  const tools = await loadTools();
  const definition = tools.resolveDefinition({ name: 'bench', app: 'main:app' }, { defaultPython: python, defaultCwd: repoRoot, defaultWorkers: 24 });
  const supervisor = new tools.Supervisor(definition); // never started: its history is filled here
  const host = { cwd: repoRoot, servers: () => [supervisor], create: () => supervisor, stop: async () => undefined };
  const perStream = Math.floor(cfg.lines / cfg.streams);
  log(`filling a history with ${cfg.streams} streams × ${perStream} lines`);
  const batch = 500;
  for (let i = 0; i < perStream; i += batch) {
    for (let slot = 0; slot < cfg.streams; slot++) {
      supervisor.lines.record({ slot, pid: 1000 + slot, lines: Array.from({ length: batch }, (_, k) => `INFO: 127.0.0.1:5${slot} - "GET /api/items/${i + k} HTTP/1.1" 200 OK`) });
    }
  }
  const history = supervisor.lines;
  const held = history.slots().reduce((sum, slot) => sum + history.stream(slot).total - history.stream(slot).dropped, 0);
  const bytes = history.slots().reduce((sum, slot) => sum + history.stream(slot).allocatedBytes(), 0);
  const middle = Math.floor(history.lastSeq / 2);
  const cases = {
    newest: { lines: cfg.read },
    cursor: { since: middle, lines: cfg.read },
    cursorOneStream: { slot: 1, since: middle, lines: cfg.read },
    // The last 10 requests of each stream: among the newest lines (a search reads at most 16 MB of them).
    grep: { grep: `items/${String(perStream - 1).slice(0, -1)}\\d `, lines: cfg.read },
  };
  const tool = tools.findTool('get_worker_logs');
  const results = {};
  for (const [name, input] of Object.entries(cases)) {
    const ms = [];
    const cpuMs = [];
    let answer;
    for (let warm = 0; warm < 3; warm++) await tools.invokeTool(tool, input, host); // compiled before it is timed
    for (let run = 0; run < (name === 'grep' ? Math.max(1, Math.floor(cfg.runs / 4)) : cfg.runs); run++) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      answer = await tools.invokeTool(tool, input, host);
      ms.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      cpuMs.push((cpu.user + cpu.system) / 1000);
    }
    if (answer.isError) throw new Error(`get_worker_logs ${JSON.stringify(input)}: ${answer.text}`);
    results[name] = { input, ms: summary(ms), cpuMs: summary(cpuMs), lines: answer.data.lines.length, textBytes: Buffer.byteLength(answer.text) };
    log(`${name}: ${answer.data.lines.length} lines, median ${fmt(results[name].ms.median, 2)} ms (CPU ${fmt(results[name].cpuMs.median, 2)} ms)`);
  }
  return { held, bytesPerLine: bytes / held, ...results };
}

/** The MCP server's CPU seconds so far, from /proc. */
async function cpuSecondsOf(pid) {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function pollingCost(cfg, log) {
  const { Client } = await import(sdk('client/index.js'));
  const { StdioClientTransport } = await import(sdk('client/stdio.js'));
  const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', '--cwd', benchFixtures], stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  const port = await freePort();
  const mcpPid = transport.pid;
  log(`starting ${cfg.workers} workers under server-workers mcp (pid ${mcpPid})`);
  const started = await client.callTool({ name: 'start_server', arguments: { name: 'busy', app: 'soak_app:app', workers: cfg.workers, bind: `127.0.0.1:${port}`, python } }, undefined, { timeout: 180000 });
  if (started.isError) throw new Error(started.content[0].text);
  const load = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'bench', 'soakLoad.mjs'), String(port), String(cfg.lanes), String(cfg.pauseMs)], { stdio: ['pipe', 'ignore', 'inherit'] });
  const rounds = [];
  let calls = 0;
  let cursor = 0;
  try {
    await delay(1000);
    for (let round = 0; round < cfg.rounds; round++) {
      for (const polled of round % 2 === 0 ? [false, true] : [true, false]) {
        let polling = polled;
        const poller = (async () => {
          while (polling) {
            const t0 = Date.now();
            await client.callTool({ name: 'list_servers', arguments: {} });
            const logs = await client.callTool({ name: 'get_worker_logs', arguments: { since: cursor, lines: 100 } });
            cursor = logs.structuredContent?.next ?? cursor;
            calls += 2;
            await delay(Math.max(0, cfg.intervalMs - (Date.now() - t0)));
          }
        })();
        const cpu0 = await cpuSecondsOf(mcpPid);
        const t0 = performance.now();
        await delay(cfg.seconds * 1000);
        const cpu = (await cpuSecondsOf(mcpPid)) - cpu0;
        const seconds = (performance.now() - t0) / 1000;
        polling = false;
        await poller;
        rounds.push({ polled, percentOfCore: (cpu / seconds) * 100 });
      }
    }
  } finally {
    load.stdin.end();
    await new Promise((resolve) => load.once('exit', resolve));
    await client.close();
  }
  const withClient = summary(rounds.filter((r) => r.polled).map((r) => r.percentOfCore));
  const without = summary(rounds.filter((r) => !r.polled).map((r) => r.percentOfCore));
  const differences = [];
  for (let i = 0; i + 1 < rounds.length; i += 2) {
    const [a, b] = rounds.slice(i, i + 2);
    differences.push((a.polled ? a : b).percentOfCore - (a.polled ? b : a).percentOfCore);
  }
  return { withClient, without, clientCost: summary(differences), calls, rounds };
}

export const section = {
  name: 'agentTools',
  config: {
    full: { streams: 25, lines: 1_000_000, read: 2000, runs: 20, workers: 8, lanes: 8, pauseMs: 20, intervalMs: 200, seconds: 5, rounds: 8 },
    smoke: { streams: 5, lines: 50_000, read: 2000, runs: 2, workers: 2, lanes: 2, pauseMs: 20, intervalMs: 200, seconds: 1, rounds: 1 },
  },
  async run(_core, cfg, log) {
    const read = await readCost(cfg, log);
    const polling = await pollingCost(cfg, log);
    return { setup: { ...cfg, app: 'test/fixtures/bench/soak_app.py', load: `scripts/bench/soakLoad.mjs, ${cfg.lanes} lanes, ${cfg.pauseMs} ms pause` }, read, polling };
  },
  rows(result, { add }) {
    const { read, polling } = result;
    const section = '8 agent tools';
    // The target is judged on the call's CPU time: on a shared machine its wall time also counts the other processes.
    const ms = (c) => `${fmt(c.cpuMs.median, 2)} ms CPU, ${fmt(c.ms.median, 2)} ms wall (${fmt(c.lines, 0)} lines, ${fmt(c.textBytes / 1024, 0)} KB)`;
    add(section, `get_worker_logs, the newest lines (asked: ${fmt(result.setup.read, 0)}; an answer stops at 64 KB) of a history holding ${fmt(read.held, 0)} (medians of ${read.newest.ms.n})`, ms(read.newest), '< 20 ms', read.newest.cpuMs.median < 20);
    add(section, 'get_worker_logs, the lines after a cursor (as many): every stream · one stream', `${ms(read.cursor)} · ${ms(read.cursorOneStream)}`, '< 20 ms', read.cursor.cpuMs.median < 20 && read.cursorOneStream.cpuMs.median < 20);
    add(section, 'get_worker_logs with grep (the newest 16 MB of lines, searched in a worker thread)', ms(read.grep));
    add(section, 'the history\'s memory per line held (text and facts)', `${fmt(read.bytesPerLine, 1)} bytes`);
    add(section, `MCP server CPU, ${result.setup.workers} busy workers: without · with a client polling every ${result.setup.intervalMs} ms (medians)`, `${fmt(polling.without.median, 2)} · ${fmt(polling.withClient.median, 2)} % of a core`);
    add(section, `the client's cost (with − without, median of ${polling.clientCost.n} round pairs; ${polling.calls} calls)`, `${fmt(polling.clientCost.median, 2)} % of a core`, '< 1 %', polling.clientCost.median < 1);
  },
};
