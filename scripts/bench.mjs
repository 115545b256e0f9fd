#!/usr/bin/env node
// `npm run bench`: does the extension cost the server anything? One run, seven sections, measured side by side:
//   1 throughput   the example app, 4 workers, access log on, under autocannon: a direct (output to /dev/null),
//                  b under the core (agent + per-worker separation + the output channels' batching; request insight
//                  off), b' the same with request insight on, c on a pipe drained by Node (a terminal), d under PM2
//                  (its log files); the five alternated; judged by CPU per request (the server's processes and the
//                  supervising process, from /proc), b/a, b'/a, b/c round by round, and the supervisor's µs per
//                  request; requests/s and their ratios beside, as context
//   2 latency      worker writes a timestamped line -> the line reaches the output sink: p50, p99, max
//   3 flood        workers write 1,000,000 lines as fast as they can: delivered == written, time, memory
//   4 reaction     worker's hello -> model event; SIGKILL -> exit / respawn / ready events
//   5 sampling     CPU the stats sampler uses per second with 64 workers, and the whole idle supervising process
//   6 extension    what activation loads (dist/extension.js; the rest in dist/lazy/); activation time in VS Code (e2e
//                  harness) and in plain Node (approximation); the extension host's CPU with 64 idle workers, in
//                  their first minute and past it (beside --baseline-bundle's, when given)
//   7 reload       save -> every worker serving the new code, 10 saves under load, per server kind; failed
//                  requests; beside uvicorn --reload (one worker)
//   and the REGISTERED sections, each a file that brings its configuration, its run and its rows: 8 agentTools
//                  (the MCP tools' read cost and polling), 9 dashboard (the panel, the ring, a scrape)
// Prints a table (Markdown) and writes the same, with every measurement, as JSON.
//
//   node scripts/bench.mjs [--smoke] [--json FILE] [--only SECTION[,SECTION...]]
//   node scripts/bench.mjs --soak [MINUTES]     the soak alone (scripts/bench/soak.mjs; default 10 minutes, not
//                                               in CI): JSON in test-results/bench-soak.json
//
// --smoke: tiny sizes (about 30 s; the integration tests run it so that the benchmark cannot rot).
// Default JSON: test-results/bench.json (bench-smoke.json with --smoke). Needs dist/ (npm run build; npm run bench
// builds first) and the test venv (.venv, npm run setup). Load only ever targets 127.0.0.1.
// Exits 1 when a section could not be measured or the flood lost lines; a missed target is reported, not an error.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { extension } from './bench/extension.mjs';
import { ChannelSink, loadCore, python, repoRoot, round } from './bench/lib.mjs';
import { flood, latency } from './bench/logs.mjs';
import { reaction } from './bench/reaction.mjs';
import { reload } from './bench/reload.mjs';
import { rows, table } from './bench/report.mjs';
import { sampling } from './bench/sampling.mjs';
import { SOAK_DEFAULTS, soak, soakRows } from './bench/soak.mjs';
import { throughput } from './bench/throughput.mjs';

// Sections that bring their own config, run and table rows ({ name, config: { full, smoke }, run, rows }): one line each.
const REGISTERED = [(await import('./bench/agentTools.mjs')).section, (await import('./bench/dashboard.mjs')).section];
const SECTIONS = ['throughput', 'latency', 'flood', 'reaction', 'sampling', 'extension', 'reload', ...REGISTERED.map((s) => s.name)];

const CONFIG = {
  full: {
    throughput: { workers: 4, rounds: 16, seconds: 3, warmupSeconds: 0.5, connections: 16, reconnectEvery: 40 },
    latency: { workers: 4, rate: 200, seconds: 10 },
    flood: { workers: 4, lines: 1_000_000, stallMs: 20000 },
    reaction: { workers: 4, kills: 8, pauseMs: 300 },
    sampling: { workers: 64, seconds: 10, settleSeconds: 8 },
    extension: { nodeRuns: 9, vscodeRuns: 5, baselineRuns: 3, idleWorkers: 64, idleSeconds: 10, idleSettleSeconds: 62, idleWindows: 3 },
    reload: { workers: 4, saves: 10, lanes: 4, pauseMs: 500 },
  },
  smoke: {
    throughput: { workers: 2, rounds: 1, seconds: 1, warmupSeconds: 0, connections: 4, reconnectEvery: 40 },
    latency: { workers: 2, rate: 50, seconds: 1 },
    flood: { workers: 2, lines: 20_000, stallMs: 10000 },
    reaction: { workers: 2, kills: 1, pauseMs: 100 },
    sampling: { workers: 4, seconds: 2, settleSeconds: 0.5 },
    extension: { nodeRuns: 1, vscodeRuns: 0, baselineRuns: 0, idleWorkers: 2, idleSeconds: 1, idleSettleSeconds: 0, idleWindows: 1 },
    reload: { workers: 2, saves: 2, lanes: 2, pauseMs: 100 },
  },
};


function say(line) {
  console.log(`[bench] ${line}`);
}

function machine() {
  const cpus = os.cpus();
  const versions = (() => {
    try {
      return execFileSync(python, ['-c', 'import sys, gunicorn, uvicorn; print(sys.version.split()[0], gunicorn.__version__, uvicorn.__version__)'], { encoding: 'utf8' }).trim().split(' ');
    } catch {
      return [];
    }
  })();
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    python: versions[0],
    gunicorn: versions[1],
    uvicorn: versions[2],
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    commit,
  };
}

/** `--soak [MINUTES]`: the minutes (10 when none follow), and the other arguments. */
function soakMinutes(argv) {
  const at = argv.indexOf('--soak');
  if (at === -1) return { minutes: undefined, rest: argv };
  const next = argv[at + 1];
  const given = next !== undefined && /^\d+(\.\d+)?$/.test(next);
  return { minutes: given ? Number(next) : 10, rest: [...argv.slice(0, at), ...argv.slice(at + (given ? 2 : 1))] };
}

async function runSoak(minutes, jsonFile) {
  const info = machine();
  say(`soak of ${minutes} min on ${info.cores} × ${info.cpu}, load average ${info.loadAverage.join(' ')}`);
  const core = await loadCore();
  new ChannelSink(core); // the channels' appends go to a sink that keeps nothing, as in the other sections
  const started = Date.now();
  let result;
  try {
    result = await soak(core, { ...SOAK_DEFAULTS, minutes }, (line) => say(`  ${line}`));
  } catch (error) {
    result = { error: error instanceof Error ? error.stack ?? error.message : String(error) };
  }
  const tableRows = soakRows(result, (value, digits = 1) => (typeof value === 'number' && Number.isFinite(value) ? round(value, digits).toLocaleString('en-US') : String(value)));
  console.log(`\n${table(tableRows)}\n`);
  info.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const file = path.resolve(jsonFile ?? path.join(repoRoot, 'test-results', 'bench-soak.json'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ mode: 'soak', date: new Date().toISOString(), durationSeconds: (Date.now() - started) / 1000, machine: info, table: tableRows, result }, null, 2)}\n`);
  say(`done; JSON: ${path.relative(process.cwd(), file)}`);
  return result.error || tableRows.some((row) => row.ok === false) ? 1 : 0;
}

/** The table's rows of the registered sections (a section that failed: its error). */
function registeredRows(results) {
  const out = [];
  const add = (section, figure, value, target = '', ok = null) => out.push({ section, figure, value, target, ok });
  const fmt = (value, digits = 1) => (typeof value === 'number' && Number.isFinite(value) ? round(value, digits).toLocaleString('en-US') : String(value));
  for (const s of REGISTERED) {
    const result = results[s.name];
    if (result?.error) add(s.name, 'not measured', result.error.split('\n')[0].slice(0, 160), '', false);
    else if (result) s.rows(result, { add, fmt });
  }
  return out;
}

async function main() {
  const { minutes, rest } = soakMinutes(process.argv.slice(2));
  const { values } = parseArgs({
    args: rest,
    options: { smoke: { type: 'boolean' }, json: { type: 'string' }, only: { type: 'string' }, 'baseline-bundle': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(`node scripts/bench.mjs [--smoke] [--json FILE] [--only ${SECTIONS.join(',')}] [--baseline-bundle OTHER/dist/extension.js]\nnode scripts/bench.mjs --soak [MINUTES] [--json FILE]`);
    return 0;
  }
  if (minutes !== undefined) return runSoak(minutes, values.json);
  const mode = values.smoke ? 'smoke' : 'full';
  const wanted = values.only ? values.only.split(',').map((s) => s.trim()) : SECTIONS;
  const unknown = wanted.filter((s) => !SECTIONS.includes(s));
  if (unknown.length) {
    console.error(`[bench] unknown section(s): ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
    return 2;
  }
  const jsonFile = path.resolve(values.json ?? path.join(repoRoot, 'test-results', mode === 'smoke' ? 'bench-smoke.json' : 'bench.json'));
  if (!fs.existsSync(python)) {
    console.error(`[bench] ${python} is missing: run npm run setup`);
    return 1;
  }

  const started = Date.now();
  const config = CONFIG[mode];
  if (values['baseline-bundle']) config.extension = { ...config.extension, baselineBundle: values['baseline-bundle'] };
  const info = machine();
  say(`${mode} run on ${info.cores} × ${info.cpu}, load average ${info.loadAverage.join(' ')}`);
  const core = await loadCore();
  const sink = new ChannelSink(core);
  const results = {};
  for (const name of SECTIONS.filter((s) => wanted.includes(s))) {
    const t0 = Date.now();
    say(`== ${name} ==`);
    const log = (line) => say(`  ${line}`);
    try {
      const cfg = config[name];
      if (name === 'throughput') results[name] = await throughput(core, cfg, log);
      if (name === 'latency') results[name] = await latency(core, sink, cfg, log);
      if (name === 'flood') results[name] = await flood(core, sink, cfg, log);
      if (name === 'reaction') results[name] = await reaction(core, cfg, log);
      if (name === 'sampling') results[name] = await sampling(core, cfg, log);
      if (name === 'extension') results[name] = await extension(cfg, log);
      if (name === 'reload') results[name] = await reload(core, cfg, log);
      const registered = REGISTERED.find((s) => s.name === name);
      if (registered) results[name] = await registered.run(core, registered.config[mode], log);
    } catch (error) {
      results[name] = { error: error instanceof Error ? error.stack ?? error.message : String(error) };
      say(`  failed: ${results[name].error}`);
    }
    results[name].sectionSeconds = (Date.now() - t0) / 1000;
  }

  const tableRows = [...rows(results), ...registeredRows(results)];
  const text = table(tableRows);
  const durationSeconds = (Date.now() - started) / 1000;
  console.log('');
  console.log(text);
  console.log('');
  info.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const report = { mode, date: new Date().toISOString(), durationSeconds, machine: info, config: { ...config, ...Object.fromEntries(REGISTERED.map((s) => [s.name, s.config[mode]])) }, table: tableRows, results };
  fs.mkdirSync(path.dirname(jsonFile), { recursive: true });
  fs.writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  say(`done in ${durationSeconds.toFixed(0)} s; JSON: ${path.relative(process.cwd(), jsonFile)}`);

  const broken = Object.entries(results).filter(([, r]) => r.error).map(([name]) => name);
  const lost = results.flood && !results.flood.error && results.flood.linesDelivered !== results.flood.linesWritten;
  if (broken.length) say(`not measured: ${broken.join(', ')}`);
  if (lost) say(`the flood lost lines: ${results.flood.linesDelivered} of ${results.flood.linesWritten} delivered`);
  return broken.length || lost ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
