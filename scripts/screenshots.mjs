#!/usr/bin/env node
// `npm run screenshots`: the README's pictures, taken from the real thing. Opens a copy of examples/fastapi in
// code-server (VS Code in headless Chromium) with this extension loaded, runs Server Workers: Start Workers from the
// command palette, sends a few requests, kills one worker (the server replaces it), opens that worker's channel,
// and saves to docs/images/:
//   overview.png        the whole window: the Workers view, tasks.json, the worker's channel
//   workers-tree.png    the Workers view
//   worker-channel.png  the worker's output channel, with the marker line of its restart
//   dashboard-dark.png, dashboard-light.png
//                       the dashboard (Server Workers: Open Dashboard) after a minute of mixed traffic: a worker
//                       killed by /crash (its marker), a slow request in flight, in the dark and the light theme
// Needs `npm run setup` and `npm run build` (npm run screenshots does the build). Leaves no process behind.

/* global document -- in the functions that run in the page */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from './lib/chromium.mjs';
import { DEFAULT_CODE_SERVER, startCodeServer, workbenchUrl } from './lib/codeServer.mjs';
import { repoRoot, vscodeTestDir } from './lib/paths.mjs';
import { freePort } from './lib/ports.cjs';
import { SetupError, signalGroup } from './lib/process.mjs';
import { setupToRun } from './setup.mjs';

const WORKERS = 3;
const VIEWPORT = { width: 1280, height: 760 };
const example = path.join(repoRoot, 'examples', 'fastapi');
const imagesDir = path.join(repoRoot, 'docs', 'images');
const scratch = path.join(vscodeTestDir, 'screenshots');
const workspace = path.join(scratch, 'fastapi');

function say(line) {
  console.log(`[screenshots] ${line}`);
}

/** The example in a scratch folder, its task on a free port (8000 may be taken), the example's virtualenv linked. */
function prepareWorkspace(port) {
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
  for (const file of ['main.py', 'requirements.txt']) fs.copyFileSync(path.join(example, file), path.join(workspace, file));
  const venv = fs.realpathSync(path.join(example, '.venv'));
  fs.symlinkSync(venv, path.join(workspace, '.venv'));
  const tasks = {
    version: '2.0.0',
    tasks: [{ label: 'api', type: 'serverworkers', app: 'main:app', workers: WORKERS, bind: `127.0.0.1:${port}` }],
  };
  fs.writeFileSync(path.join(workspace, '.vscode', 'tasks.json'), `${JSON.stringify(tasks, null, 2)}\n`);
}

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/** The Workers view's row whose text matches `text`. */
function treeRow(page, text) {
  return page.locator('.part.sidebar .monaco-list-row', { hasText: text }).first();
}

/** The dashboard's webview: the frame whose document has the dashboard (code-server nests it; its name varies). */
async function dashboardFrame(page, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      if (await frame.locator('#dashboard .chart canvas').count().catch(() => 0)) return frame;
    }
    if (Date.now() > deadline) throw new Error('no frame shows the dashboard');
    await page.waitForTimeout(250);
  }
}

/** Requests from a few lanes for `seconds`: quick ones, some slower, a few 404s. */
async function traffic(base, seconds) {
  const until = Date.now() + seconds * 1000;
  const lane = async (i) => {
    for (let n = 0; Date.now() < until; n++) {
      const path = n % 23 === 0 ? '/missing' : n % 7 === i ? `/slow?seconds=${(0.05 + ((n * 37) % 20) / 100).toFixed(2)}` : '/pid';
      await get(`${base}${path}`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 15 + ((n * 13 + i * 29) % 60)));
    }
  };
  await Promise.all([0, 1, 2, 3].map(lane));
}

async function dashboardScreenshots(page, base) {
  await page.setViewportSize({ width: 1440, height: 1320 });
  await runCommand(page, 'View: Close All Editors');
  await page.keyboard.press('Control+J'); // the panel (open: the worker's channel) closes
  await page.keyboard.press('Control+B'); // and the side bar
  await runCommand(page, 'Server Workers: Open Dashboard');
  const frame = await dashboardFrame(page);
  say('the dashboard is open; traffic for a minute and a half');
  const load = traffic(base, 90);
  await page.waitForTimeout(20_000);
  await get(`${base}/crash`).catch(() => undefined); // the worker serving it dies: a marker, then its replacement
  await page.waitForTimeout(15_000);
  void get(`${base}/slow?seconds=50`).catch(() => undefined); // in flight in the pictures, its age growing
  await frame.locator('#in-flight td.path', { hasText: '/slow' }).first().waitFor({ timeout: 15_000 });
  await frame.locator('#windows button[data-minutes="1"]').click(); // the last minute: the traffic fills the charts
  await page.waitForTimeout(20_000);
  await page.mouse.move(VIEWPORT.width - 5, 5);
  const shoot = async (name) => {
    const file = path.join(imagesDir, name);
    await page.screenshot({ path: file, clip: await page.locator('.part.editor').boundingBox() });
    say(`${path.relative(repoRoot, file)} (${Math.round(fs.statSync(file).size / 1024)} KB)`);
  };
  await shoot('dashboard-dark.png');
  await page.keyboard.press('Control+K'); // Preferences: Color Theme (its title also matches the marketplace's command)
  await page.keyboard.press('Control+T');
  await page.locator('.quick-input-widget input').fill('Light Modern');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: /^Light Modern/ }).first().click({ timeout: 15_000 });
  await page.locator('.monaco-workbench.vs').waitFor({ timeout: 20_000 });
  await page.waitForTimeout(2500); // the page redraws its charts in the new colors
  await page.mouse.move(VIEWPORT.width - 5, 5);
  await shoot('dashboard-light.png');
  await load;
  await page.setViewportSize(VIEWPORT);
}

async function takeScreenshots(page, port) {
  const activity = page.locator('.part.activitybar a.action-label[aria-label^="Server Workers"]').first();
  await activity.waitFor({ state: 'visible', timeout: 90_000 });
  await activity.click();
  await page.locator('.part.sidebar .title-label', { hasText: /Server Workers/i }).first().waitFor({ timeout: 15_000 });
  // a wider sidebar, so that the rows' pid, uptime, CPU and memory fit
  const sidebar = await page.locator('.part.sidebar').boundingBox();
  await page.mouse.move(sidebar.x + sidebar.width + 1, sidebar.y + sidebar.height / 2);
  await page.mouse.down();
  await page.mouse.move(sidebar.x + sidebar.width + 170, sidebar.y + sidebar.height / 2, { steps: 5 });
  await page.mouse.up();

  await runCommand(page, 'Server Workers: Start Workers');
  const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'api' }).first();
  await pick.waitFor({ timeout: 30_000 });
  await pick.click();
  say('starting the task "api"');
  await treeRow(page, `${WORKERS}/${WORKERS} ready`).waitFor({ timeout: 90_000 });
  say('all workers ready');

  const base = `http://127.0.0.1:${port}`;
  for (const item of ['order 41', 'order 42', 'order 43', 'invoice 7', 'invoice 8', 'report']) {
    await get(`${base}/log?message=${encodeURIComponent(item)}`);
  }
  const victim = JSON.parse(await get(`${base}/pid`)).pid;
  const row = treeRow(page, `pid ${victim}`);
  await row.waitFor({ timeout: 10_000 });
  const label = (await row.locator('.label-name').first().textContent()).trim(); // "worker 2"
  say(`killing ${label} (pid ${victim}) with SIGKILL`);
  process.kill(victim, 'SIGKILL');
  await page.waitForFunction(
    ({ label, victim }) => [...document.querySelectorAll('.part.sidebar .monaco-list-row')].some((r) =>
      r.textContent.includes(label) && /pid \d+/.test(r.textContent) && !r.textContent.includes(`pid ${victim}`)),
    { label, victim },
    { timeout: 30_000 },
  );
  await treeRow(page, `${WORKERS}/${WORKERS} ready`).waitFor({ timeout: 30_000 });
  for (const item of ['after the restart', 'order 44']) await get(`${base}/log?message=${encodeURIComponent(item)}`);

  // tasks.json in the editor, the worker's channel in the panel
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill('.vscode/tasks.json');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'tasks.json' }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  // A row's command is re-registered each time the row is refreshed (once a second): a click that lands in between
  // finds none ("Actual command not found"), so click again.
  const restarted = page.locator('.part.panel .monaco-editor .view-line', { hasText: 'restarted' }).first();
  for (let attempt = 1; ; attempt++) {
    await treeRow(page, label).click();
    if (await restarted.waitFor({ timeout: 5_000 }).then(() => true, () => false)) break;
    if (attempt === 3) throw new Error(`clicking ${label}'s row did not open its channel`);
  }
  await runCommand(page, 'Notifications: Clear All Notifications');
  await page.mouse.move(VIEWPORT.width - 5, VIEWPORT.height / 2); // no hover tooltip in the pictures
  await page.waitForTimeout(2500); // a stats tick or two: uptime, CPU and memory filled in

  fs.mkdirSync(imagesDir, { recursive: true });
  const shots = [
    ['overview.png', undefined],
    ['workers-tree.png', await page.locator('.part.sidebar').boundingBox()],
    ['worker-channel.png', await page.locator('.part.panel').boundingBox()],
  ];
  for (const [name, clip] of shots) {
    const file = path.join(imagesDir, name);
    await page.screenshot({ path: file, clip: clip ?? undefined });
    say(`${path.relative(repoRoot, file)} (${Math.round(fs.statSync(file).size / 1024)} KB)`);
  }

  await dashboardScreenshots(page, base);

  await runCommand(page, 'Server Workers: Stop Workers');
  await page.locator('.part.sidebar .monaco-list-row', { hasText: 'ready' }).first().waitFor({ state: 'detached', timeout: 30_000 });
}

async function main() {
  setupToRun(DEFAULT_CODE_SERVER);
  const port = await freePort();
  prepareWorkspace(port);
  const server = await startCodeServer({
    scratch,
    workspace,
    settings: { 'workbench.colorTheme': 'Default Dark Modern', 'editor.minimap.enabled': false, 'window.zoomLevel': 0 },
  });
  process.on('exit', () => signalGroup(server.child.pid, 'SIGKILL'));
  const url = workbenchUrl({ port: server.port, workspace, extensionDevelopmentPath: repoRoot });
  const context = await chromium.launchPersistentContext(
    path.join(scratch, 'chromium-profile'),
    chromiumLaunchOptions({ viewport: VIEWPORT }),
  );
  let ok = false;
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    await takeScreenshots(page, port);
    ok = true;
  } catch (error) {
    const page = context.pages()[0];
    const shot = path.join(scratch, '..', 'screenshots-failure.png');
    if (page) await page.screenshot({ path: shot }).catch(() => {});
    say(`failed: ${error.message.split('\n')[0]}; the window then: ${path.relative(repoRoot, shot)}`);
  } finally {
    await context.close().catch(() => {});
    await server.stop(); // code-server's process group: the extension host and any server it still runs
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(`[screenshots] ${error instanceof SetupError ? error.message : error.stack ?? error}`);
  process.exit(1);
});
