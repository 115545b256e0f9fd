#!/usr/bin/env node
// `npm test`: setup, build, compile, then each phase as a child process:
//   unit         node --test out/test/unit/
//   integration  node --test --test-concurrency=1 out/test/integration/   (real servers, one file at a time)
//   e2e          node test/e2e/harness.mjs                               (real VS Code: code-server + Chromium)
// Counts come from node's TAP summary (test-results/<phase>.tap) and the e2e results (test-results/e2e.json).
// Prints a per-phase summary and last one line `N passed, N failed` (totals). Exits non-zero when any phase or
// test failed. SERVER_WORKERS_TEST_PHASES=unit,integration,e2e runs a subset (setup then skips what only the
// e2e phase needs).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, setup, SetupError } from './setup.mjs';

const ALL_PHASES = ['unit', 'integration', 'e2e'];
const resultsDir = path.join(repoRoot, 'test-results');

function say(line) {
  console.log(`[test] ${line}`);
}

function phasesWanted() {
  const raw = process.env.SERVER_WORKERS_TEST_PHASES;
  if (!raw) return ALL_PHASES;
  const wanted = raw.split(',').map((p) => p.trim()).filter(Boolean);
  const unknown = wanted.filter((p) => !ALL_PHASES.includes(p));
  if (unknown.length) {
    console.error(`[test] unknown phase(s) in SERVER_WORKERS_TEST_PHASES: ${unknown.join(', ')} (known: ${ALL_PHASES.join(', ')})`);
    process.exit(2);
  }
  return ALL_PHASES.filter((p) => wanted.includes(p));
}

function runChild(command, args) {
  say(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit' });
  if (result.error) {
    console.error(`[test] ${command}: ${result.error.message}`);
    return 1;
  }
  return result.status ?? 1;
}

/** Whether `dir` holds any compiled test candidates (.js files) at all. */
function hasJsFiles(dir) {
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir, { recursive: true }).some((rel) => /\.(c|m)?js$/.test(rel));
}

/** The totals of node's TAP output: the last `# pass N`, `# fail N`, `# cancelled N`, `# skipped N`, `# todo N`. */
function parseTap(file) {
  if (!fs.existsSync(file)) return null;
  const counts = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^# (pass|fail|cancelled|skipped|todo) (\d+)\s*$/.exec(line);
    if (m) counts[m[1]] = Number(m[2]);
  }
  if (counts.pass === undefined || counts.fail === undefined) return null;
  return {
    passed: counts.pass,
    failed: counts.fail + (counts.cancelled ?? 0),
    skipped: (counts.skipped ?? 0) + (counts.todo ?? 0),
  };
}

function nodeTestPhase(name, extraArgs) {
  const dir = path.join('out', 'test', name);
  if (!hasJsFiles(path.join(repoRoot, dir))) {
    return { name, passed: 0, failed: 0, skipped: 0, exitCode: 0, note: `no tests in ${dir}/` };
  }
  const tap = path.join(resultsDir, `${name}.tap`);
  fs.rmSync(tap, { force: true });
  const exitCode = runChild(process.execPath, [
    '--test',
    ...extraArgs,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${path.relative(repoRoot, tap)}`,
    `${dir}/`,
  ]);
  const counts = parseTap(tap);
  if (!counts) return { name, passed: 0, failed: 0, skipped: 0, exitCode: exitCode || 1, note: 'no TAP summary' };
  return { name, ...counts, exitCode };
}

function e2ePhase() {
  const json = path.join(resultsDir, 'e2e.json');
  fs.rmSync(json, { force: true });
  const exitCode = runChild(process.execPath, [path.join('test', 'e2e', 'harness.mjs')]);
  try {
    const results = JSON.parse(fs.readFileSync(json, 'utf8'));
    return { name: 'e2e', passed: results.passed, failed: results.failed, skipped: results.pending ?? 0, exitCode };
  } catch {
    return { name: 'e2e', passed: 0, failed: 0, skipped: 0, exitCode: exitCode || 1, note: 'no test-results/e2e.json' };
  }
}

function main() {
  const started = Date.now();
  const phases = phasesWanted();
  fs.mkdirSync(resultsDir, { recursive: true });
  const results = [];
  const finish = () => {
    let passed = 0;
    let failed = 0;
    let ok = true;
    console.log('');
    say(`summary (${((Date.now() - started) / 1000).toFixed(0)} s):`);
    for (const r of results) {
      // A phase that failed without a failing test to show for it (a crash, a build error) counts as one failure.
      const extra = r.exitCode !== 0 && r.failed === 0 ? 1 : 0;
      passed += r.passed;
      failed += r.failed + extra;
      if (r.exitCode !== 0 || r.failed > 0) ok = false;
      const status = r.exitCode === 0 ? '' : ` exit code ${r.exitCode}`;
      const skipped = r.skipped ? `, ${r.skipped} skipped` : '';
      const secs = r.seconds !== undefined ? ` (${r.seconds.toFixed(1)} s)` : '';
      say(`  ${r.name.padEnd(12)} ${r.passed} passed, ${r.failed + extra} failed${skipped}${secs}${status}${r.note ? `  [${r.note}]` : ''}`);
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(ok ? 0 : 1);
  };
  const step = (name, fn) => {
    const t0 = Date.now();
    const r = fn();
    r.seconds = (Date.now() - t0) / 1000;
    if (r.exitCode !== 0 || r.failed > 0 || r.note) results.push({ name, passed: 0, failed: 0, ...r });
    return r.exitCode === 0;
  };

  say(`phases: ${phases.join(', ')}`);
  const setupOk = step('setup', () => {
    try {
      setup(phases.includes('e2e') ? undefined : ['venvs', 'links']);
      return { exitCode: 0 };
    } catch (error) {
      if (!(error instanceof SetupError)) throw error;
      console.error(`[setup] failed: ${error.message}`);
      return { exitCode: 1, note: 'setup failed' };
    }
  });
  if (!setupOk) return finish();
  if (!step('build', () => ({ exitCode: runChild('npm', ['run', 'build']) }))) return finish();
  if (!step('compile', () => ({ exitCode: runChild('npm', ['run', 'compile']) }))) return finish();

  for (const phase of phases) {
    console.log('');
    say(`== ${phase} ==`);
    const t0 = Date.now();
    const r =
      phase === 'unit'
        ? nodeTestPhase('unit', [])
        : phase === 'integration'
          ? nodeTestPhase('integration', ['--test-concurrency=1'])
          : e2ePhase();
    r.seconds = (Date.now() - t0) / 1000;
    results.push(r);
  }
  finish();
}

main();
