#!/usr/bin/env node
// `npm start`: setup, build, then VS Code (code-server 4.100.3, in the browser) with this extension loaded from the
// repo and examples/fastapi open. Prints the URL to open; runs until Ctrl-C.
//
//   npm start [-- --check] [-- --no-build] [-- --folder DIR] [-- --code-server VERSION]
//
// PORT=N picks the port (default: a free one); it binds 127.0.0.1 only. Everything it writes (user data, XDG dirs,
// TMPDIR, the log) stays in .vscode-test/start/, which is kept between runs (your settings and open editors).
// --code-server 1.139 (or 4.139.1): the newest VS Code instead, with its own folder .vscode-test/start-4.139.1/.
// --check: instead of waiting, opens the URL in headless Chromium, checks that the activity bar shows the
// "Server Workers" view container, saves a screenshot to /tmp/server-workers-start.png, and stops.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromiumLaunchOptions } from './lib/chromium.mjs';
import { codeServerFor, DEFAULT_CODE_SERVER, startCodeServer, workbenchUrl } from './lib/codeServer.mjs';
import { repoRoot, vscodeTestDir } from './lib/paths.mjs';
import { SetupError, signalGroup } from './lib/process.mjs';
import { setupToRun } from './setup.mjs';

const argv = process.argv.slice(2);
const argValue = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const check = argv.includes('--check');
const build = !argv.includes('--no-build');
const folder = path.resolve(argValue('--folder') || path.join(repoRoot, 'examples', 'fastapi'));
const extensionPath = path.resolve(argValue('--extension') || repoRoot);
let codeServer;
try {
  codeServer = codeServerFor(argValue('--code-server'));
} catch (error) {
  console.error(`[start] ${error.message}`);
  process.exit(2);
}
// Each VS Code its own user data: a newer one migrates what it finds, which an older one may not read.
const scratch = path.join(vscodeTestDir, codeServer === DEFAULT_CODE_SERVER ? 'start' : `start-${codeServer.version}`);

function say(line) {
  console.log(`[start] ${line}`);
}

async function verify(url) {
  const { chromium } = await import('playwright-core');
  const profile = path.join(scratch, 'chromium-profile');
  fs.rmSync(profile, { recursive: true, force: true });
  const context = await chromium.launchPersistentContext(profile, chromiumLaunchOptions());
  const shot = '/tmp/server-workers-start.png';
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    const item = page.locator('.part.activitybar a.action-label[aria-label^="Server Workers"]');
    await item.first().waitFor({ state: 'visible', timeout: 60_000 });
    await item.first().click();
    await page.locator('.part.sidebar .title-label', { hasText: /Server Workers/i }).first().waitFor({ timeout: 15_000 });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: shot });
    say(`check passed: the activity bar shows "Server Workers"; screenshot: ${shot}`);
    return true;
  } catch (error) {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: shot }).catch(() => {});
    say(`check failed: ${error.message.split('\n')[0]}; screenshot: ${shot}`);
    return false;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function main() {
  setupToRun(codeServer);
  if (build) {
    say('$ npm run build');
    const result = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'inherit' });
    if (result.status !== 0) throw new SetupError('npm run build failed');
  }
  const port = process.env.PORT ? Number(process.env.PORT) : undefined;
  const server = await startCodeServer({ codeServer, scratch, workspace: folder, port });
  const url = workbenchUrl({ port: server.port, workspace: folder, extensionDevelopmentPath: extensionPath });
  // Last resort, whatever path this process leaves by: nothing of code-server's process group survives it.
  process.on('exit', () => signalGroup(server.child.pid, 'SIGKILL'));
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    fs.rmSync(path.join(scratch, 'tmp'), { recursive: true, force: true });
    process.exit(code);
  };
  server.child.on('exit', (code, signal) => {
    if (stopping) return;
    say(`code-server exited (${code ?? signal}); its log: ${path.relative(repoRoot, server.logFile)}`);
    process.exit(code || 1);
  });

  if (check) {
    const ok = await verify(url);
    await stop(ok ? 0 : 1);
    return;
  }
  process.on('SIGINT', () => {
    console.log('');
    say('stopping code-server');
    stop(0);
  });
  process.on('SIGTERM', () => stop(0));
  console.log('');
  say(`VS Code ${codeServer.vscode} (code-server ${codeServer.version}) with Server Workers from ${path.relative(process.cwd(), extensionPath) || '.'}, folder ${path.relative(repoRoot, folder)}:`);
  console.log('');
  console.log(`    ${url}`);
  console.log('');
  say(`log: ${path.relative(repoRoot, server.logFile)}. After changing the extension: npm run build, then reload the window (F1 > Developer: Reload Window).`);
  say('Ctrl-C stops it.');
}

main().catch((error) => {
  console.error(`[start] ${error instanceof SetupError ? error.message : error.stack ?? error}`);
  process.exit(1);
});
