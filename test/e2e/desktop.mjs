#!/usr/bin/env node
// Runs the same e2e mocha suite (out/test/e2e/index.js) in desktop VS Code through @vscode/test-electron.
// It downloads VS Code from Microsoft's update servers, so it needs that network access (the CI machines of this
// project do not have it: there, test/e2e/harness.mjs runs the suite in code-server instead).
// On Linux without a display, run it under Xvfb: xvfb-run -a npm run test:desktop
//
// Env: VSCODE_VERSION (default: stable), VSCODE_EXECUTABLE (use this VS Code instead of downloading one),
//      SERVER_WORKERS_E2E_GREP (mocha grep). Writes test-results/e2e-desktop.json; prints `N passed, N failed`.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const extensionTestsPath = path.join(repoRoot, 'out', 'test', 'e2e', 'index');
const workspace = path.join(repoRoot, 'examples', 'fastapi');
const scratch = path.join(repoRoot, '.vscode-test', `desktop-${process.pid}`);
const resultsDir = path.join(repoRoot, 'test-results');
const rawResults = path.join(scratch, 'results.json');
const resultsJson = path.join(resultsDir, 'e2e-desktop.json');

async function main() {
  if (!fs.existsSync(`${extensionTestsPath}.js`)) {
    console.error('out/test/e2e/index.js is missing. Run: npm run compile');
    return 1;
  }
  fs.mkdirSync(path.join(scratch, 'user-data', 'User'), { recursive: true });
  fs.mkdirSync(path.join(scratch, 'extensions'), { recursive: true });
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(
    path.join(scratch, 'user-data', 'User', 'settings.json'),
    JSON.stringify({ 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false }, null, 2),
  );

  let exitCode;
  try {
    exitCode = await runTests({
      version: process.env.VSCODE_VERSION || 'stable',
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE || undefined,
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath,
      extensionTestsEnv: {
        SERVER_WORKERS_E2E_RESULTS: rawResults,
        SERVER_WORKERS_E2E: '1',
        ...(process.env.SERVER_WORKERS_E2E_GREP ? { SERVER_WORKERS_E2E_GREP: process.env.SERVER_WORKERS_E2E_GREP } : {}),
      },
      launchArgs: [
        workspace,
        '--disable-extensions', // every other extension; the one under development still loads
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        '--user-data-dir', path.join(scratch, 'user-data'),
        '--extensions-dir', path.join(scratch, 'extensions'),
      ],
    });
  } catch (error) {
    // runTests rejects with TestRunFailedError when VS Code exits non-zero (a failing test) or cannot start.
    console.error(`[desktop] ${error instanceof Error ? error.message : error}`);
    exitCode = typeof error?.code === 'number' && error.code !== 0 ? error.code : 1;
  }

  let tests = [];
  try {
    tests = JSON.parse(fs.readFileSync(rawResults, 'utf8')).tests ?? [];
  } catch {
    console.error('[desktop] the tests module wrote no results');
  }
  for (const t of tests) {
    console.log(`${t.state === 'passed' ? 'ok  ' : t.state === 'failed' ? 'FAIL' : 'skip'} ${t.title}`);
    if (t.error) console.log(t.error.split('\n').slice(0, 8).join('\n').replace(/^/gm, '       '));
  }
  const passed = tests.filter((t) => t.state === 'passed').length;
  let failed = tests.filter((t) => t.state === 'failed').length;
  if (exitCode !== 0 && failed === 0) failed = 1; // the run failed without a failing test: count it
  if (exitCode === 0 && failed > 0) exitCode = 1;
  fs.writeFileSync(resultsJson, JSON.stringify({ exitCode, passed, failed, tests }, null, 2) + '\n');
  fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  return exitCode;
}

process.exitCode = await main();
