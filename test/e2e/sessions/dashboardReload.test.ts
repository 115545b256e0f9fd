/**
 * The dashboard across a window reload, in its own code-server session. First run: a server, its dashboard open and
 * drawing, then the hand-off file (SERVER_WORKERS_E2E_HANDOFF) names the server and the harness reloads the window.
 * The reload ends this extension host (its servers stop) and runs this file again in the new one, which finds the
 * hand-off and starts the server of that name again. The harness checks from outside that the panel came back (the
 * serializer), named its server, and went on with the new run (test/e2e/faultSessions.mjs).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { waitForTexts } from '../pageBridge';
import { api, freePort, getJson, readyServer, waitUntil } from '../support';

const HARNESS_WAIT_MS = 90_000;

export interface DashboardHandoff {
  serverName: string;
  port: number;
}

describe('The dashboard across a window reload', () => {
  it('shows a server, hands over to the harness, and starts that server again after the reload', async function () {
    this.timeout(HARNESS_WAIT_MS + 90_000);
    const handoff = process.env.SERVER_WORKERS_E2E_HANDOFF;
    assert.ok(handoff, 'SERVER_WORKERS_E2E_HANDOFF names the hand-off file');
    const workersApi = await api();
    const reloaded = fs.existsSync(handoff);
    const { serverName, port } = reloaded ? JSON.parse(fs.readFileSync(handoff, 'utf8')) as DashboardHandoff : await (async () => {
      const free = await freePort();
      return { serverName: `reload-${free}`, port: free };
    })();
    await vscode.commands.executeCommand('serverWorkers.start', { name: serverName, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });
    const model = await waitUntil('2 ready workers', () => readyServer(workersApi, serverName, 2));
    if (!reloaded) {
      await vscode.commands.executeCommand('serverWorkers.openDashboard', model.id);
      for (let i = 0; i < 5; i++) await getJson(`http://127.0.0.1:${port}/pid`);
      await waitForTexts('the dashboard to count 5 requests', '#summary [data-figure="requests"] .value', (texts) => texts[0] === '5');
      const content: DashboardHandoff = { serverName, port };
      fs.writeFileSync(`${handoff}.partial`, JSON.stringify(content) + '\n');
      fs.renameSync(`${handoff}.partial`, handoff);
    }
    // The harness reloads the window (first run) or checks the panel and closes the session (second run).
    await new Promise((resolve) => setTimeout(resolve, HARNESS_WAIT_MS));
    throw new Error(`the harness did not end this extension host within ${HARNESS_WAIT_MS} ms`);
  });
});
