#!/usr/bin/env node
// Runs the e2e mocha suite (out/test/e2e/index.js) inside real VS Code: code-server 4.100.3 (VS Code 1.100.3
// server + web workbench, Node extension host) driven by Debian's Chromium through playwright-core.
// Needs `npm run setup`, `npm run build` and `npm run compile` first (npm run test:e2e does the last two).
//
//   node test/e2e/harness.mjs [--vsix FILE] [--keep]
//
// Env:
//   SERVER_WORKERS_E2E_TIMEOUT_MS   whole-run timeout (default 600000 = 10 min); a screenshot is taken when it fires
//   SERVER_WORKERS_E2E_VSIX         installed-extension mode (same as --vsix): install this .vsix into the fresh
//                                   extensions dir and run the tests against it (an empty stub stands as the
//                                   extension under development, which VS Code needs to run a tests module)
//   SERVER_WORKERS_E2E_EXTENSION    extensionDevelopmentPath (default: the repo root)
//   SERVER_WORKERS_E2E_GREP         only tests whose full title matches (mocha grep)
//   SERVER_WORKERS_E2E_VERBOSE=1    print every extension host console line, not only errors
//   SERVER_WORKERS_E2E_KEEP=1       keep the scratch folder .vscode-test/run-<pid>/ (same as --keep)
//
// Prints each test's result, the extension host's errors, and last a line `N passed, N failed`; writes
// test-results/e2e.json; exits 0 only when every test passed.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  chromiumLaunchOptions,
  codeServerEntry,
  codeServerProblem,
  isolatedEnv,
  repoRoot,
  signalGroup,
  startCodeServer,
  vscodeTestDir,
  workbenchUrl,
} from '../../scripts/setup.mjs';

const argv = process.argv.slice(2);
const argValue = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const timeoutMs = Number(process.env.SERVER_WORKERS_E2E_TIMEOUT_MS || 600_000);
const vsix = argValue('--vsix') || process.env.SERVER_WORKERS_E2E_VSIX || '';
const keep = argv.includes('--keep') || process.env.SERVER_WORKERS_E2E_KEEP === '1';
const verbose = process.env.SERVER_WORKERS_E2E_VERBOSE === '1';
const extensionPath = path.resolve(process.env.SERVER_WORKERS_E2E_EXTENSION || repoRoot);
const workspace = path.join(repoRoot, 'examples', 'fastapi');
const testsModule = path.join(repoRoot, 'out', 'test', 'e2e', 'index'); // VS Code resolves the .js
const resultsDir = path.join(repoRoot, 'test-results');
const resultsJson = path.join(resultsDir, 'e2e.json');
const scratch = path.join(vscodeTestDir, `run-${process.pid}`);
const rawResults = path.join(scratch, 'results.json');

// Errors that are noise in this setup (no marketplace, no network).
const NOISE = [/gallery/i, /marketplace/i, /open-vsx/, /ENOTFOUND/, /getaddrinfo/, /update\.code\.visualstudio/, /telemetry/i];
// The workbench's own chatter on the console, hidden unless SERVER_WORKERS_E2E_VERBOSE=1 (mocha's output and the
// extension's console lines are shown).
const QUIET = [
  /^Resolv(ing|ed) connection token/,
  /^Creating a socket/,
  /^Updating additional builtin extensions cache/,
  /^\[Service Worker\]/,
  /^ChatSessionStore:/,
];

function say(line) {
  console.log(`[e2e] ${line}`);
}

function fail(message) {
  console.error(`[e2e] ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function preflight() {
  const problem = codeServerProblem();
  if (problem) fail(`code-server: ${problem}. Run: npm run setup`);
  if (!fs.existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing. Run: npm run setup`);
  if (!fs.existsSync(`${testsModule}.js`)) fail(`${path.relative(repoRoot, testsModule)}.js is missing. Run: npm run compile`);
  if (!vsix) {
    const manifest = JSON.parse(fs.readFileSync(path.join(extensionPath, 'package.json'), 'utf8'));
    const main = manifest.main && path.resolve(extensionPath, manifest.main);
    if (main && !fs.existsSync(main) && !fs.existsSync(`${main}.js`)) {
      fail(`${path.relative(repoRoot, main)} is missing. Run: npm run build`);
    }
  } else if (!fs.existsSync(vsix)) {
    fail(`no such .vsix: ${vsix}`);
  }
}

function installVsix(extensionsDir) {
  say(`installed-extension mode: installing ${vsix}`);
  const result = spawnSync(
    process.execPath,
    [codeServerEntry, '--extensions-dir', extensionsDir, '--user-data-dir', path.join(scratch, 'user-data'),
      '--install-extension', path.resolve(vsix)],
    { env: isolatedEnv(scratch), encoding: 'utf8' },
  );
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  if (result.status !== 0) throw new Error(`installing ${vsix} failed (${result.status})`);
}

/** The [error] entries (with their continuation lines) of the extension host logs under `logsDir`. */
function extensionHostErrors(logsDir) {
  const errors = [];
  if (!fs.existsSync(logsDir)) return errors;
  for (const rel of fs.readdirSync(logsDir, { recursive: true })) {
    if (!/(^|\/)(remote)?exthost\.log$/.test(rel)) continue;
    let current = null;
    for (const line of fs.readFileSync(path.join(logsDir, rel), 'utf8').split('\n')) {
      const entry = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[(\w+)\]/.exec(line);
      if (entry) {
        current = entry[1] === 'error' ? [line] : null;
        if (current) errors.push(current);
      } else if (current && line.trim()) {
        current.push(line);
      }
    }
  }
  return errors.map((lines) => lines.join('\n')).filter((text) => !NOISE.some((re) => re.test(text)));
}

/** An empty extension to stand as extensionDevelopmentPath in vsix mode. */
function writeRunnerStub() {
  const dir = path.join(scratch, 'e2e-runner');
  fs.mkdirSync(dir, { recursive: true });
  const manifest = {
    name: 'server-workers-e2e-runner',
    publisher: 'serverworkers',
    version: '0.0.0',
    engines: { vscode: '*' },
    description: 'Stands as the extension under development so VS Code runs the e2e tests module (vsix mode).',
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  return dir;
}

function readRawResults() {
  try {
    return JSON.parse(fs.readFileSync(rawResults, 'utf8'));
  } catch {
    return null;
  }
}

/** Copies the logs worth keeping (code-server's, the extension host's) to test-results/e2e-logs/. */
function keepLogs(server, webLogs) {
  const target = path.join(resultsDir, 'e2e-logs');
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  if (server && fs.existsSync(server.logFile)) fs.copyFileSync(server.logFile, path.join(target, 'code-server.log'));
  const logsRoot = path.join(scratch, 'user-data', 'logs');
  if (fs.existsSync(logsRoot)) {
    for (const rel of fs.readdirSync(logsRoot, { recursive: true })) {
      const file = path.join(logsRoot, rel);
      if (!rel.endsWith('.log') || !fs.statSync(file).isFile()) continue;
      const dest = path.join(target, 'server', rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(file, dest);
    }
  }
  for (const { relativePath, contents } of webLogs ?? []) {
    const dest = path.join(target, 'web', relativePath.replace(/^(\.\.\/)+/, ''));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, contents);
  }
  return target;
}

async function main() {
  preflight();
  const started = Date.now();
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.rmSync(resultsJson, { force: true });

  let server = null;
  let context = null;
  let exitCode = 1;
  let timedOut = false;
  let webLogs = [];
  const hostErrors = [];
  let cleaning = null;
  const cleanup = () => {
    cleaning ??= (async () => {
      if (context) await context.close().catch(() => {});
      if (server) await server.stop();
    })();
    return cleaning;
  };
  // Last resort, whatever path the process leaves by: nothing of code-server's process group survives it.
  process.on('exit', () => {
    if (server) signalGroup(server.child.pid, 'SIGKILL');
  });
  const onSignal = (signal) => {
    say(`${signal}: stopping`);
    cleanup().finally(() => {
      if (!keep) fs.rmSync(scratch, { recursive: true, force: true });
      console.log('0 passed, 1 failed');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const extensionsDir = path.join(scratch, 'extensions');
    fs.mkdirSync(extensionsDir, { recursive: true });
    if (vsix) installVsix(extensionsDir);
    server = await startCodeServer({
      scratch,
      workspace,
      extensionsDir,
      env: { SERVER_WORKERS_E2E_RESULTS: rawResults, SERVER_WORKERS_E2E: '1' },
    });
    say(`code-server ${server.baseUrl} (pid ${server.child.pid}) up in ${Date.now() - started} ms`);
    const url = workbenchUrl({
      port: server.port,
      workspace,
      // VS Code runs a tests module only together with an extension under development: in vsix mode, a stub
      // that contributes nothing, so the extension under test is the installed one.
      extensionDevelopmentPath: vsix ? writeRunnerStub() : extensionPath,
      extensionTestsPath: testsModule,
    });

    context = await chromium.launchPersistentContext(
      path.join(scratch, 'chromium-profile'),
      // our own signal handlers close Chromium and code-server in order
      chromiumLaunchOptions({ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false }),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    let finish;
    const finished = new Promise((resolve) => {
      finish = resolve;
    });
    await page.exposeFunction('codeAutomationExit', (code, logs) => {
      webLogs = Array.isArray(logs) ? logs : [];
      finish(typeof code === 'number' ? code : 1);
    });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = format(...(Array.isArray(args) ? args : [args]));
      // The workbench's and the extension host's console (mocha's spec reporter among them), as it comes.
      if (type === 'error' && !NOISE.some((re) => re.test(text))) {
        hostErrors.push(text);
        console.log(`[vscode error] ${text}`);
      } else if (verbose || ((type === 'log' || type === 'info') && !QUIET.some((re) => re.test(text)))) {
        console.log(`[vscode${type === 'log' || type === 'info' ? '' : ` ${type}`}] ${text}`);
      }
    });
    page.on('pageerror', (error) => {
      if (verbose) console.log(`[page error] ${error.message}`);
    });
    page.on('crash', () => finish(1));
    say(`opening the workbench (extension: ${vsix ? vsix : path.relative(repoRoot, extensionPath) || '.'})`);
    await page.goto(url);

    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([finished, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      timedOut = true;
      const shot = path.join(resultsDir, 'e2e-timeout.png');
      await page.screenshot({ path: shot }).catch((e) => say(`screenshot failed: ${e.message}`));
      say(`timed out after ${timeoutMs / 1000} s; screenshot: ${path.relative(repoRoot, shot)}`);
      exitCode = 1;
    } else {
      exitCode = outcome;
    }
  } catch (error) {
    say(`harness error: ${error.stack ?? error}`);
    exitCode = 1;
  } finally {
    await cleanup();
  }

  const raw = readRawResults();
  const tests = raw?.tests ?? [];
  const passed = tests.filter((t) => t.state === 'passed').length;
  let failed = tests.filter((t) => t.state === 'failed').length;
  const pending = tests.filter((t) => t.state === 'pending').length;
  console.log('');
  for (const t of tests) {
    const mark = t.state === 'passed' ? 'ok  ' : t.state === 'failed' ? 'FAIL' : 'skip';
    console.log(`${mark} ${t.title}${t.durationMs !== undefined ? ` (${t.durationMs} ms)` : ''}`);
    if (t.error) console.log(t.error.split('\n').slice(0, 8).join('\n').replace(/^/gm, '       '));
  }
  if (!raw) say('the tests module wrote no results (it did not load, or did not run)');
  if (exitCode !== 0 && failed === 0) {
    failed = 1; // the run failed without a failing test to show for it (timeout, crash, load error): count it
    say(`the run failed (exit code ${exitCode}${timedOut ? ', timeout' : ''}) without a failing test`);
  }
  if (exitCode === 0 && failed > 0) exitCode = 1;
  const logsDir = keepLogs(server, webLogs);
  const logErrors = extensionHostErrors(logsDir);
  if (logErrors.length) {
    console.log('');
    say(`extension host log errors (${logErrors.length}):`);
    for (const text of logErrors) console.log(text.replace(/^/gm, '  '));
  }
  hostErrors.push(...logErrors);
  const durationMs = Date.now() - started;
  fs.writeFileSync(
    resultsJson,
    JSON.stringify(
      { exitCode, timedOut, passed, failed, pending, durationMs, mode: vsix ? 'vsix' : 'development', tests, hostErrors },
      null,
      2,
    ) + '\n',
  );
  say(`done in ${(durationMs / 1000).toFixed(1)} s; results: ${path.relative(repoRoot, resultsJson)}, logs: ${path.relative(repoRoot, logsDir)}`);
  if (!keep) fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed${pending ? `, ${pending} skipped` : ''}`);
  process.exit(exitCode === 0 ? 0 : exitCode > 0 ? exitCode : 1);
}

main().catch((error) => {
  console.error(error);
  fail('harness crashed');
});
