/**
 * The dashboard in a real VS Code, read inside its webview's frame (through the harness's page bridge): each worker's
 * series has points and the totals match the requests sent; a stuck request shows in the in-flight table with its
 * path and a growing age; a killed worker leaves a marker; pause holds the picture while data comes; a wrong-shaped
 * message from the page is ignored; the panel goes on after its server's stop and start.
 */
import * as assert from 'node:assert';
import * as http from 'node:http';
import * as vscode from 'vscode';
import { consoleLines, frameAttribute, frameClick, frameEvaluate, frameTexts, waitForAttribute, waitForTexts, waitUntilAsync } from './pageBridge';
import { alive, api, freePort, getJson, readyServer, serverNamed, type TestApi, waitUntil } from './support';

const WORKERS = 2;

function dashboardTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('serverWorkers.dashboard'));
}

/** Sends `count` requests to /pid; how many each pid answered. */
async function requests(port: number, count: number): Promise<Map<number, number>> {
  const byPid = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const { pid } = await getJson(`http://127.0.0.1:${port}/pid`) as { pid: number };
    byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
  }
  return byPid;
}

const figure = async (id: string) => (await frameTexts(`#summary [data-figure="${id}"] .value`))?.[0];

describe('The dashboard', () => {
  let workersApi: TestApi;
  let name = '';
  let port = 0;
  const start = async () => {
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: WORKERS, bind: `127.0.0.1:${port}` });
    return waitUntil(`${WORKERS} ready workers`, () => readyServer(workersApi, name, WORKERS));
  };

  before(async () => {
    workersApi = await api();
    port = await freePort();
    name = `dashboard-${port}`;
  });

  after(async () => {
    const model = serverNamed(workersApi, name);
    if (model) await vscode.commands.executeCommand('serverWorkers.stop', model.id);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('charts every worker\'s requests: each series has points, the totals match the requests sent', async function () {
    this.timeout(120000);
    const model = await start();
    await vscode.commands.executeCommand('serverWorkers.openDashboard', model.id);
    await waitUntil('the dashboard tab', () => dashboardTabs().some((t) => t.label.includes(name)));
    await waitForTexts('the page to name the server', '#dashboard #server-name', (texts) => texts[0] === name);
    await waitForTexts('the page to say it runs', '#server-state', (texts) => texts[0] === 'running');

    const byPid = await requests(port, 30);
    const slotOf = new Map(serverNamed(workersApi, name)!.workers.map((w) => [w.pid, w.slot]));
    await waitForTexts('the total of 30 requests', '#summary [data-figure="requests"] .value', (texts) => texts[0] === '30');
    for (const [pid, count] of byPid) {
      const slot = slotOf.get(pid)!;
      await waitForTexts(`worker ${slot}'s ${count} requests`, `#workers .chip[data-slot="${slot}"] .requests`, (texts) => texts[0] === String(count));
    }
    const points = JSON.parse((await frameAttribute('#charts', 'data-points')) ?? '{}') as Record<string, number>;
    for (const slot of slotOf.values()) assert.ok(points[slot] > 0, `worker ${slot}'s requests series has points: ${JSON.stringify(points)}`);
    assert.strictEqual((await frameTexts('#charts .chart canvas'))?.length, 6, 'the six charts are drawn');
  });

  it('a stuck request shows in the in-flight table with its path and a growing age', async function () {
    this.timeout(90000);
    const stuck = http.get({ host: '127.0.0.1', port, path: '/slow?seconds=25&token=secret', agent: false });
    stuck.on('error', () => undefined);
    try {
      const rows = await waitForTexts('the stuck request in flight', '#in-flight td.path', (texts) => texts.includes('/slow'), 20000);
      assert.ok(!rows.some((text) => text.includes('token')), 'the path without its query string');
      const ageOf = async () => {
        const [age] = (await frameTexts('#in-flight td.age')) ?? [];
        const match = /([\d.]+) (ms|s)/.exec(age ?? '');
        return match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : NaN;
      };
      const first = await ageOf();
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const later = await ageOf();
      assert.ok(later >= first + 1500, `the age grows: ${first} ms, then ${later} ms`);
    } finally {
      stuck.destroy();
    }
  });

  it('a killed worker leaves a marker; hiding a worker, the window and pause are the person\'s', async function () {
    this.timeout(90000);
    const victim = serverNamed(workersApi, name)!.workers[0];
    process.kill(victim.pid, 'SIGKILL');
    const events = await waitForTexts('the exit in the events', '#events li[data-kind="exit"] .text', (texts) => texts.some((t) => t.includes(`pid ${victim.pid}`)));
    assert.ok(events.some((t) => t.includes('SIGKILL')), JSON.stringify(events));
    await waitForTexts('the replacement in the events', '#events li[data-kind="replaced"] .text', (texts) => texts.some((t) => t.includes(`worker ${victim.slot}`)));
    await waitUntil('the replacement ready', () => readyServer(workersApi, name, WORKERS));

    await frameClick(`#workers .chip[data-slot="${victim.slot}"]`);
    await waitForAttribute(`#workers .chip[data-slot="${victim.slot}"]`, 'aria-pressed', 'false');
    await frameClick('#windows button[data-minutes="1"]');
    await waitForAttribute('#windows button[data-minutes="1"]', 'aria-pressed', 'true');

    const before = await figure('requests');
    await frameClick('#pause');
    await requests(port, 5);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // seconds that come in while paused
    assert.strictEqual(await figure('requests'), before, 'paused: the picture holds');
    await frameClick('#pause');
    await waitForTexts('the 5 requests after resuming', '#summary [data-figure="requests"] .value', (texts) => Number(texts[0]) === Number(before) + 5);
  });

  it('ignores a message of the wrong shape from its page, and goes on after its server\'s stop and start', async function () {
    this.timeout(120000);
    // What a page could send: through the webview's own channel to the extension, as acquireVsCodeApi().postMessage
    // sends it (the function VS Code's webview host frame gives its page: pre/index.html).
    const sent = await frameEvaluate('#dashboard', `(() => { window.__vscode_post_message__('onmessage', { message: { type: 'row', action: 'rm', slot: -1 } }); return true; })()`, true);
    assert.strictEqual(sent, true);
    const logged = await waitUntilAsync('the extension to log the wrong-shaped message', async () => (await consoleLines('"action":"rm"')).find((l) => l.includes('wrong shape')));
    assert.match(logged, /^\[warn\] \[server-workers\] the dashboard of dashboard-\d+ sent a message of the wrong shape; ignored/);
    const model = serverNamed(workersApi, name)!;
    const pids = [model.master!.pid, ...model.workers.map((w) => w.pid)];
    await vscode.commands.executeCommand('serverWorkers.stop', model.id);
    await waitForTexts('the page to say stopped', '#server-state', (texts) => texts[0] === 'stopped');
    assert.ok(pids.every((pid) => !alive(pid)));
    assert.strictEqual(dashboardTabs().length, 1, 'the panel stays');

    const again = await start();
    await waitForTexts('the page to follow the new run', '#server-state', (texts) => texts[0] === 'running');
    await requests(port, 3);
    for (const worker of again.workers) {
      await waitForTexts(`worker ${worker.slot}'s new pid`, `#workers .chip[data-slot="${worker.slot}"] .pid`, (texts) => texts[0] === `pid ${worker.pid}`);
    }
    await waitForTexts('the new run\'s 3 requests', '#summary [data-figure="requests"] .value', (texts) => texts[0] === '3');
  });
});
