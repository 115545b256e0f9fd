#!/usr/bin/env node
// Runs the e2e mocha suite (out/test/e2e/index.js) inside real VS Code: code-server (VS Code's server + web
// workbench, Node extension host) driven by Debian's Chromium through playwright-core. code-server 4.100.3 (VS Code
// 1.100.3, the engines.vscode minimum) unless --code-server names another of scripts/lib/codeServer.mjs's, such as
// 4.139.1 (VS Code 1.139.1, on Node 24).
// Needs `npm run setup`, `npm run build` and `npm run compile` first (npm run test:e2e does the last two).
//
//   node test/e2e/harness.mjs [--code-server VERSION] [--vsix FILE] [--results-name NAME] [--keep]
//
// --code-server VERSION           a code-server version (4.139.1) or VS Code version (1.139)
// --results-name NAME             write test-results/NAME.json and NAME-logs/ (default: e2e)
// Env:
//   SERVER_WORKERS_E2E_TIMEOUT_MS   whole-run timeout (default 600000 = 10 min); a screenshot is taken when it fires
//   SERVER_WORKERS_E2E_VSIX         installed-extension mode (same as --vsix): install this .vsix into the fresh
//                                   extensions dir and run the tests against it (an empty stub stands as the
//                                   extension under development, which VS Code needs to run a tests module)
//   SERVER_WORKERS_E2E_EXTENSION    extensionDevelopmentPath (default: the repo root)
//   SERVER_WORKERS_E2E_GREP         only tests whose full title matches (mocha grep); the fault sessions (below) run
//                                   when the grep matches their title
//   SERVER_WORKERS_E2E_VERBOSE=1    print every extension host console line, not only errors
//   SERVER_WORKERS_E2E_KEEP=1       keep the scratch folder .vscode-test/run-<pid>/ (same as --keep)
//
// After the main suite, the sessions that need a window of their own (test/e2e/faultSessions.mjs), each in a
// code-server of its own: a multi-root workspace, an untrusted workspace, a window closed and an extension host
// killed with SIGKILL while servers run.
// Prints each test's result, the extension host's errors, and last a line `N passed, N failed`; writes
// test-results/e2e.json (or NAME.json); exits 0 only when every test passed.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumLaunchOptions } from '../../scripts/lib/chromium.mjs';
import { codeServerFor, codeServerNode, codeServerProblem, isolatedEnv, startCodeServer, workbenchUrl } from '../../scripts/lib/codeServer.mjs';
import { repoRoot, vscodeTestDir } from '../../scripts/lib/paths.mjs';
import { signalGroup } from '../../scripts/lib/process.mjs';
import { faultSessions, killLeftovers } from './faultSessions.mjs';
import { startPageBridge } from './pageBridge.mjs';

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
const resultsName = argValue('--results-name') || 'e2e';
const resultsJson = path.join(resultsDir, `${resultsName}.json`);
const logsRoot = path.join(resultsDir, `${resultsName}-logs`);
const scratch = path.join(vscodeTestDir, `run-${process.pid}`);
const grep = process.env.SERVER_WORKERS_E2E_GREP;

// Errors that are noise in this setup (no marketplace, no network).
const NOISE = [
  /gallery/i, /marketplace/i, /open-vsx/, /ENOTFOUND/, /getaddrinfo/, /update\.code\.visualstudio/, /telemetry/i,
  // The untrusted session: a test run's workbench refuses VS Code's "trust this folder?" dialog, as a user declining.
  /refused to show dialog in tests\. Contents: Do you trust the authors/,
  // The fault sessions: VS Code's JSON language client logs to a channel that the ending extension host has closed.
  /Channel has been closed[\s\S]*json-language-features/,
  // The killed extension host: the workbench tries to reconnect to it.
  /Unknown reconnection token/,
  // 1.139's chat and agent host look for a GitHub sign-in that this setup does not have.
  /Timed out waiting for authentication provider 'github' to register/,
  // The dashboard session's window reload: the web workbench's own shutdown, as it says of itself.
  /Long running operations during shutdown are unsupported in the web/,
  /Error creating chat editing session content folder .* Canceled/,
  /reading 'extensionHost'\)[\s\S]*stopAllInReverse/,
];
// The workbench's own chatter on the console, hidden unless SERVER_WORKERS_E2E_VERBOSE=1 (mocha's output and the
// extension's console lines are shown).
const QUIET = [
  /^Resolv(ing|ed) connection token/,
  /^Creating a socket/,
  /^Updating additional builtin extensions cache/,
  /^\[Service Worker\]/,
  /^ChatSessionStore:/,
  // 1.139: its chat view and the agent host processes it starts (no model, no sign-in here)
  /^\[AgentHost/,
  /^\[ChatModelSelection\]/,
  /^\[AccountPolicyGate\]/,
  /^\[reconnection-grace-time\]/,
];

function say(line) {
  console.log(`[e2e] ${line}`);
}

function fail(message) {
  console.error(`[e2e] ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function chosenCodeServer() {
  try {
    return codeServerFor(argValue('--code-server'));
  } catch (error) {
    return fail(error.message);
  }
}
const codeServer = chosenCodeServer();

function preflight() {
  const problem = codeServerProblem(codeServer);
  if (problem) fail(`code-server ${codeServer.version}: ${problem}. Run: npm run setup`);
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

function installVsix(extensionsDir, scratch, file = vsix) {
  say(`installed-extension mode: installing ${file}`);
  const result = spawnSync(
    codeServerNode(codeServer),
    [codeServer.entry, '--extensions-dir', extensionsDir, '--user-data-dir', path.join(scratch, 'user-data'),
      '--install-extension', path.resolve(file)],
    { env: isolatedEnv(scratch), encoding: 'utf8' },
  );
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  if (result.status !== 0) throw new Error(`installing ${file} failed (${result.status})`);
}

/**
 * Installs the extension folder `folder` (a stand-in of an extension that cannot be installed here) into the
 * session's extensions: packaged with vsce, installed as users install a .vsix. (code-server loads one
 * extensionDevelopmentPath only, so a second extension cannot come that way.)
 */
function installFolder(extensionsDir, scratch, folder) {
  const file = path.join(scratch, `${path.basename(folder)}.vsix`);
  const vsce = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', file],
    { cwd: folder, encoding: 'utf8' });
  if (vsce.status !== 0) throw new Error(`packaging ${folder} failed: ${vsce.stdout}${vsce.stderr}`);
  installVsix(extensionsDir, scratch, file);
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
function writeRunnerStub(scratch) {
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

function readRawResults(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Copies a session's logs worth keeping (code-server's, the extension host's) to `target`. */
function keepLogs(server, scratch, webLogs, target) {
  fs.mkdirSync(target, { recursive: true });
  if (server && fs.existsSync(server.logFile)) fs.copyFileSync(server.logFile, path.join(target, 'code-server.log'));
  const serverLogs = path.join(scratch, 'user-data', 'logs');
  if (fs.existsSync(serverLogs)) {
    for (const rel of fs.readdirSync(serverLogs, { recursive: true })) {
      const file = path.join(serverLogs, rel);
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

/**
 * One code-server + Chromium session: opens `workspace` with the tests module, which runs the main suite or, with
 * `session`, out/test/e2e/sessions/<session>.test.js. When the module is done, or as soon as the file `handoff`
 * exists (the tests inside wait there for what the harness does next), `afterTests` may do more from outside (close
 * the window, kill the extension host) and returns its own test results. Returns the session's tests.
 */
async function runSession({ name, session, workspace, workspaceTrust = false, env = {}, install = [], timeout, handoff, afterTests, logsTarget }) {
  const sessionScratch = name === 'main' ? scratch : path.join(scratch, name);
  const rawResults = path.join(sessionScratch, 'results.json');
  fs.mkdirSync(sessionScratch, { recursive: true });
  const state = { server: null, context: null, page: null };
  let exitCode;
  let timedOut = false;
  let webLogs = [];
  const hostErrors = [];
  const extraTests = [];
  current = state;
  try {
    const extensionsDir = path.join(sessionScratch, 'extensions');
    fs.mkdirSync(extensionsDir, { recursive: true });
    if (vsix) installVsix(extensionsDir, sessionScratch);
    for (const folder of install) installFolder(extensionsDir, sessionScratch, folder);
    const started = Date.now();
    state.server = await startCodeServer({
      codeServer,
      scratch: sessionScratch,
      workspace,
      extensionsDir,
      workspaceTrust,
      env: { SERVER_WORKERS_E2E_RESULTS: rawResults, SERVER_WORKERS_E2E: '1', SERVER_WORKERS_E2E_PAGE_BRIDGE: pageBridge.url, ...(session ? { SERVER_WORKERS_E2E_SESSION: session } : {}), ...env },
    });
    say(`${name}: code-server ${codeServer.version} (VS Code ${codeServer.vscode}) ${state.server.baseUrl} (pid ${state.server.child.pid}) up in ${Date.now() - started} ms`);
    const url = workbenchUrl({
      port: state.server.port,
      workspace,
      // VS Code runs a tests module only together with an extension under development: in vsix mode, a stub
      // that contributes nothing, so the extension under test is the installed one.
      extensionDevelopmentPath: vsix ? writeRunnerStub(sessionScratch) : extensionPath,
      extensionTestsPath: testsModule,
    });

    state.context = await chromium.launchPersistentContext(
      path.join(sessionScratch, 'chromium-profile'),
      // our own signal handlers close Chromium and code-server in order
      chromiumLaunchOptions({ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false }),
    );
    const page = state.context.pages()[0] ?? (await state.context.newPage());
    state.page = page;
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
      pageBridge.log(type, text);
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
    say(`${name}: opening the workbench (extension: ${vsix ? vsix : path.relative(repoRoot, extensionPath) || '.'})`);
    await page.goto(url);

    let timer;
    const timeoutReached = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeout);
    });
    const handedOver = handoff ? untilFileExists(handoff) : new Promise(() => {});
    const outcome = await Promise.race([finished, timeoutReached, handedOver]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      timedOut = true;
      const shot = path.join(resultsDir, `${resultsName}-timeout-${name}.png`);
      await page.screenshot({ path: shot }).catch((e) => say(`screenshot failed: ${e.message}`));
      say(`${name}: timed out after ${timeout / 1000} s; screenshot: ${path.relative(repoRoot, shot)}`);
      exitCode = 1;
    } else {
      exitCode = outcome === 'handoff' ? 0 : outcome;
      if (afterTests) extraTests.push(...(await afterTests(state)));
    }
  } catch (error) {
    say(`${name}: harness error: ${error.stack ?? error}`);
    exitCode = 1;
  } finally {
    await closeSession(state);
    current = null;
  }

  // Handed over, the tests inside wait for the harness's fault, which ends them in ways not theirs to report.
  const raw = handoff && fs.existsSync(handoff) ? null : readRawResults(rawResults);
  const tests = [...(raw?.tests ?? []), ...extraTests];
  if (!raw && !handoff) say(`${name}: the tests module wrote no results (it did not load, or did not run)`);
  if (exitCode !== 0 && !tests.some((t) => t.state === 'failed')) {
    // the run failed without a failing test to show for it (timeout, crash, load error): count it
    tests.push({ title: `${name} session: the run failed (exit code ${exitCode}${timedOut ? ', timeout' : ''})`, state: 'failed' });
  }
  const logsDir = keepLogs(state.server, sessionScratch, webLogs, logsTarget);
  hostErrors.push(...extensionHostErrors(logsDir));
  return { tests, timedOut, hostErrors, logsDir };
}

async function untilFileExists(file) {
  while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 100));
  return 'handoff';
}

/** The session running now, for the signal handlers. */
let current = null;
/** The tests' eyes on the session's page (webviews): test/e2e/pageBridge.mjs. */
const pageBridge = await startPageBridge(() => current?.page);

async function closeSession(state) {
  state.closing ??= (async () => {
    if (state.context) await state.context.close().catch(() => {});
    if (state.server) await state.server.stop();
  })();
  return state.closing;
}

async function main() {
  preflight();
  const started = Date.now();
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.rmSync(resultsJson, { force: true });
  fs.rmSync(logsRoot, { recursive: true, force: true });

  // Last resort, whatever path the process leaves by: nothing of code-server's process group survives it.
  process.on('exit', () => {
    if (current?.server) signalGroup(current.server.child.pid, 'SIGKILL');
    killLeftovers();
  });
  const onSignal = (signal) => {
    say(`${signal}: stopping`);
    (current ? closeSession(current) : Promise.resolve()).finally(() => {
      killLeftovers();
      if (!keep) fs.rmSync(scratch, { recursive: true, force: true });
      console.log('0 passed, 1 failed');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results = [await runSession({ name: 'main', workspace, timeout: timeoutMs, logsTarget: logsRoot })];
  // The sessions that break their window (trust on, a closed window, a killed extension host), each in its own
  // code-server after the main suite. A grep that names none of them skips them.
  for (const faultSession of await faultSessions(scratch)) {
    if (grep && !new RegExp(grep).test(faultSession.title)) continue;
    results.push(await runSession({ ...faultSession, timeout: Math.min(timeoutMs, 180_000), logsTarget: path.join(logsRoot, faultSession.name) }));
  }

  const tests = results.flatMap((r) => r.tests);
  const hostErrors = results.flatMap((r) => r.hostErrors);
  const timedOut = results.some((r) => r.timedOut);
  const passed = tests.filter((t) => t.state === 'passed').length;
  const failed = tests.filter((t) => t.state === 'failed').length;
  const pending = tests.filter((t) => t.state === 'pending').length;
  console.log('');
  for (const t of tests) {
    const mark = t.state === 'passed' ? 'ok  ' : t.state === 'failed' ? 'FAIL' : 'skip';
    console.log(`${mark} ${t.title}${t.durationMs !== undefined ? ` (${t.durationMs} ms)` : ''}`);
    if (t.error) console.log(t.error.split('\n').slice(0, 8).join('\n').replace(/^/gm, '       '));
  }
  if (hostErrors.length) {
    console.log('');
    say(`extension host log errors (${hostErrors.length}):`);
    for (const text of hostErrors) console.log(text.replace(/^/gm, '  '));
  }
  const exitCode = failed > 0 ? 1 : 0;
  const durationMs = Date.now() - started;
  fs.writeFileSync(
    resultsJson,
    JSON.stringify(
      { exitCode, timedOut, passed, failed, pending, durationMs, mode: vsix ? 'vsix' : 'development', tests, hostErrors },
      null,
      2,
    ) + '\n',
  );
  say(`done in ${(durationMs / 1000).toFixed(1)} s; results: ${path.relative(repoRoot, resultsJson)}, logs: ${path.relative(repoRoot, logsRoot)}`);
  if (!keep) fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed${pending ? `, ${pending} skipped` : ''}`);
  process.exit(exitCode);
}

main().catch((error) => {
  console.error(error);
  fail('harness crashed');
});
