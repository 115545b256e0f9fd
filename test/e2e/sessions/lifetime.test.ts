/**
 * Servers left running for the harness, in their own code-server session: it then closes the window or SIGKILLs the
 * extension host, and checks from outside (/proc) that nothing of these servers survives. The hand-off file
 * (SERVER_WORKERS_E2E_HANDOFF) says which processes and ports to watch. The test does not end by itself: an ended
 * tests module ends its extension host, which would stop the servers before the harness's fault.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { api, freePort, readyServer, waitUntil } from '../support';

const HARNESS_WAIT_MS = 60_000;

export interface LifetimeHandoff {
  extensionHostPid: number;
  servers: Array<{ name: string; port: number; masterPid: number; pids: number[] }>;
}

describe('Servers left running for the harness', () => {
  it('runs a gunicorn and a uvicorn server, and hands their processes to the harness', async function () {
    this.timeout(HARNESS_WAIT_MS + 60_000);
    const handoff = process.env.SERVER_WORKERS_E2E_HANDOFF;
    assert.ok(handoff, 'SERVER_WORKERS_E2E_HANDOFF names the hand-off file');
    const workersApi = await api();
    const servers: LifetimeHandoff['servers'] = [];
    for (const server of ['gunicorn', 'uvicorn'] as const) {
      const port = await freePort();
      const name = `lifetime-${server}-${port}`;
      await vscode.commands.executeCommand('serverWorkers.start', { name, server, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });
      const model = await waitUntil(`2 ready ${server} workers`, () => readyServer(workersApi, name, 2));
      servers.push({ name, port, masterPid: model.master!.pid, pids: [model.master!.pid, ...model.workers.map((w) => w.pid)] });
    }
    const content: LifetimeHandoff = { extensionHostPid: process.pid, servers };
    fs.writeFileSync(`${handoff}.partial`, JSON.stringify(content, null, 2) + '\n');
    fs.renameSync(`${handoff}.partial`, handoff);
    await new Promise((r) => setTimeout(r, HARNESS_WAIT_MS));
    throw new Error(`the harness did not end this extension host within ${HARNESS_WAIT_MS} ms of the hand-off`);
  });
});
