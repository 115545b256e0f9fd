// Section 6, the extension: the size of dist/extension.js (what activation loads; the rest is in dist/lazy/, loaded on
// first use), and its activation time.
// - In VS Code (code-server 4.100.3, the e2e harness): test/e2e/activation.test.ts reads the extension host's own
//   performance marks (will/didLoadExtensionCode, will/didActivateExtension); activation = code loading + the
//   activate() call, which is what VS Code's Running Extensions view reports. The same run with an empty extension
//   (same id, only `require('vscode')`) shows what VS Code spends around any extension.
// - In plain Node (an approximation): scripts/bench/activate.cjs requires dist/extension.js with a stub `vscode`.
// And the extension host's CPU while a server of many workers idles (scripts/bench/idleHost.cjs), optionally beside a
// baseline bundle (--baseline-bundle: another checkout's dist/extension.js).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { benchFixtures, freePort, median, python, repoRoot, runNodeJson, summary } from './lib.mjs';

const bundle = path.join(repoRoot, 'dist', 'extension.js');

export async function extension(cfg, log) {
  if (!fs.existsSync(bundle)) throw new Error('dist/extension.js is missing: run npm run build (npm run bench does)');
  const source = fs.readFileSync(bundle);
  const lazyDir = path.join(path.dirname(bundle), 'lazy');
  const lazy = fs.existsSync(lazyDir) ? fs.readdirSync(lazyDir).filter((f) => f.endsWith('.js')) : [];
  const { build, stop } = await import('esbuild');
  // The whole extension minified in one file, as the figure was measured before the lazily loaded files (issue 23).
  const minified = path.join(repoRoot, 'out', 'bench', 'extension.min.js');
  await build({
    entryPoints: [path.join(repoRoot, 'src', 'extension', 'extension.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    external: ['vscode'],
    outfile: minified,
    logLevel: 'warning',
  });
  await stop(); // its service would wake this process every second
  const result = {
    bundleBytes: source.length,
    bundleGzipBytes: zlib.gzipSync(source).length,
    lazyFiles: lazy.length,
    lazyBytes: lazy.reduce((sum, f) => sum + fs.statSync(path.join(lazyDir, f)).size, 0),
    minifiedBytes: fs.statSync(minified).size,
  };

  log(`activation in plain Node, ${cfg.nodeRuns} fresh processes`);
  const nodeRuns = [];
  for (let i = 0; i < cfg.nodeRuns; i++) nodeRuns.push(await runNodeJson(path.join(repoRoot, 'scripts', 'bench', 'activate.cjs'), []));
  result.nodeApproximation = {
    loadMs: summary(nodeRuns.map((r) => r.loadMs)),
    loadCpuMs: summary(nodeRuns.map((r) => r.loadCpuMs)),
    activateMs: summary(nodeRuns.map((r) => r.activateMs)),
    totalMs: summary(nodeRuns.map((r) => r.loadMs + r.activateMs)),
  };
  result.idleHost = await idleHost(cfg, log);

  if (cfg.vscodeRuns === 0) {
    result.vscode = { skipped: 'smoke mode: VS Code is not started (npm run bench measures it)' };
    return result;
  }
  const problem = vscodeProblem();
  if (problem) {
    result.vscode = { skipped: problem };
    return result;
  }
  log(`activation in VS Code, ${cfg.vscodeRuns} runs of the e2e harness (and ${cfg.baselineRuns} with an empty extension)`);
  const runs = [];
  for (let i = 0; i < cfg.vscodeRuns; i++) runs.push(vscodeActivation(repoRoot));
  const empty = emptyExtension();
  const baseline = [];
  for (let i = 0; i < cfg.baselineRuns; i++) baseline.push(vscodeActivation(empty));
  result.vscode = {
    runs,
    activationMs: summary(runs.map((r) => r.loadMs + r.activateMs)),
    loadMs: summary(runs.map((r) => r.loadMs)),
    activateMs: summary(runs.map((r) => r.activateMs)),
    untilActivatedMs: summary(runs.map((r) => r.totalMs)),
    emptyExtension: {
      activationMs: summary(baseline.map((r) => r.loadMs + r.activateMs)),
      untilActivatedMs: summary(baseline.map((r) => r.totalMs)),
    },
    overEmptyMs: median(runs.map((r) => r.totalMs)) - median(baseline.map((r) => r.totalMs)),
  };
  return result;
}

/**
 * The extension host's CPU with a server of `cfg.idleWorkers` idle workers (scripts/bench/idleHost.cjs): in the
 * workers' first minute (their rows' uptime in seconds), then, `cfg.idleSettleSeconds` after they are ready,
 * `cfg.idleWindows` windows of `cfg.idleSeconds`: the steady state, when only a figure that changes changes a row.
 * With `cfg.baselineBundle` (another checkout's dist/extension.js), the same of that bundle, measured after.
 */
async function idleHost(cfg, log) {
  const bundles = [['current', bundle], ...(cfg.baselineBundle ? [['baseline', path.resolve(cfg.baselineBundle)]] : [])];
  log(`the extension host with ${cfg.idleWorkers} idle workers: ${cfg.idleSeconds} s at once, then ${cfg.idleWindows} × ${cfg.idleSeconds} s from ${cfg.idleSettleSeconds} s after they are ready${cfg.baselineBundle ? '; then the baseline bundle' : ''}`);
  const result = { workers: cfg.idleWorkers, seconds: cfg.idleSeconds };
  for (const [name, file] of bundles) {
    const args = [file, String(cfg.idleWorkers), String(cfg.idleSeconds), python, benchFixtures, 'log_app:app', String(await freePort()), String(cfg.idleSettleSeconds), String(cfg.idleWindows)];
    const run = await runNodeJson(path.join(repoRoot, 'scripts', 'bench', 'idleHost.cjs'), args, { timeoutMs: 600000 });
    result[name] = {
      ...(name === 'baseline' ? { bundle: cfg.baselineBundle } : {}),
      firstMinute: run.firstMinute,
      steady: summary(run.steady.map((w) => w.percentOfCore)),
      treeItemsPerSecond: median(run.steady.map((w) => w.treeItemsPerSecond)),
      windows: run.steady,
    };
  }
  return result;
}

function vscodeProblem() {
  const harness = path.join(repoRoot, 'test', 'e2e', 'harness.mjs');
  if (!fs.existsSync(harness)) return 'test/e2e/harness.mjs is missing';
  const compiled = path.join(repoRoot, 'out', 'test', 'e2e', 'activation.test.js');
  const sourceFile = path.join(repoRoot, 'test', 'e2e', 'activation.test.ts');
  if (!fs.existsSync(compiled) || fs.statSync(compiled).mtimeMs < fs.statSync(sourceFile).mtimeMs) {
    const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: repoRoot, encoding: 'utf8' });
    if (tsc.status !== 0) return `tsc -p . failed: ${(tsc.stdout + tsc.stderr).trim().slice(-500)}`;
  }
  if (!fs.readdirSync(path.join(repoRoot, '.vscode-test'), { withFileTypes: true }).some((d) => d.name.startsWith('code-server-'))) {
    return 'code-server is not installed (npm run setup)';
  }
  return undefined;
}

/** One run of the e2e harness with only the activation test; its figures. */
function vscodeActivation(extensionPath) {
  const file = path.join(repoRoot, 'out', 'bench', `activation-${process.pid}.json`);
  fs.rmSync(file, { force: true });
  const run = spawnSync(process.execPath, [path.join(repoRoot, 'test', 'e2e', 'harness.mjs')], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 180000,
    env: {
      ...process.env,
      SERVER_WORKERS_E2E_GREP: 'activation',
      SERVER_WORKERS_E2E_EXTENSION: extensionPath,
      SERVER_WORKERS_BENCH_ACTIVATION: file,
    },
  });
  if (!fs.existsSync(file)) {
    throw new Error(`the e2e harness wrote no activation figures (exit ${run.status ?? run.signal}): ${`${run.stdout}\n${run.stderr}`.trim().slice(-1500)}`);
  }
  const figures = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  return figures;
}

/** An extension with the same id and activation events that does nothing but require('vscode'). */
function emptyExtension() {
  const dir = path.join(repoRoot, 'out', 'bench', 'empty-extension');
  fs.mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: manifest.name,
    publisher: manifest.publisher,
    version: manifest.version,
    engines: manifest.engines,
    activationEvents: manifest.activationEvents,
    main: './extension.js',
  }, null, 2));
  fs.writeFileSync(path.join(dir, 'extension.js'), "require('vscode');\nexports.activate = () => ({});\nexports.deactivate = () => undefined;\n");
  return dir;
}
