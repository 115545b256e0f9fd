/** Request insight and Show Stack in a real VS Code: the row and tooltip show the figures and the busy request; Show Stack opens the channel with the stack. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorkersNode } from '../../src/extension/workersTree';
import { alive, api, freePort, getJson, readyServer, waitUntil } from './support';

describe('What each worker is doing', () => {
  it('the row and tooltip show the figures and the busy request; Show Stack opens the channel with the stack and its file links', async function () {
    this.timeout(120000);
    const workersApi = await api();
    const port = await freePort();
    const name = `insight-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 1, bind: `127.0.0.1:${port}`, timeout: 30 });
    const model = await waitUntil('1 ready worker', () => readyServer(workersApi, name, 1));
    const pids = [model.master!.pid, model.workers[0].pid];
    const workerRow = () => {
      const rows = workersApi.treeRows();
      const at = rows.findIndex((r) => r.depth === 0 && r.label === name);
      return { server: rows[at], worker: rows.slice(at + 1).find((r) => r.label === 'worker 1')! };
    };

    for (let i = 0; i < 5; i++) await getJson(`http://127.0.0.1:${port}/pid`);
    await waitUntil('the row to show the rate and p99', () => /· [\d.]+ req\/s · p99 [\d.]+ m?s ·/.test(workerRow().worker.description));
    await waitUntil('the tooltip to count the 5 requests', () => workerRow().worker.tooltip.includes('Requests: 5 served'));
    assert.match(workerRow().worker.tooltip, /Responses: 2xx 5 · 3xx 0 · 4xx 0 · 5xx 0 · unhandled exceptions 0/);
    assert.match(workerRow().server.tooltip, /Requests of 1 workers: 5 served/);

    const slow = http.get({ host: '127.0.0.1', port, path: '/slow?seconds=30', agent: false });
    slow.on('error', () => undefined);
    try {
      await waitUntil('the row to say busy on GET /slow', () => /busy \d+(\.\d)? s: GET \/slow/.test(workerRow().worker.description), 15000);
      assert.match(workerRow().server.description, /1 in flight/);
      assert.match(workerRow().worker.tooltip, /In flight: 1\n {4}GET \/slow \(/);

      const node = workersApi.treeNodes().find((n): n is Extract<WorkersNode, { kind: 'worker' }> => n.kind === 'worker' && n.slot === 1 && workersApi.servers().some((s) => s.id === n.serverId && s.name === name))!;
      await vscode.commands.executeCommand('serverWorkers.showStack', node);
      const mainPy = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'main.py');
      const sleepLine = fs.readFileSync(mainPy, 'utf8').split('\n').findIndex((l) => l.includes('time.sleep(min(seconds')) + 1;
      const frame = `File "${mainPy}", line ${sleepLine} in slow`;
      await waitUntil('the stack in the worker\'s channel', () => workersApi.channelLines(name, 1).some((line) => line.trim() === frame), 15000);
      assert.ok(workersApi.channelLines(name, 1).some((line) => line.startsWith('── stacks of worker 1 (pid ')), 'the marker line heads the stacks');

      // The channel is open: its document is the output channel's, and the frame links to main.py at the line.
      const channel = await waitUntil('the worker\'s channel open as a document', () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'output' && d.getText().includes(frame)), 15000);
      const links = await vscode.commands.executeCommand<vscode.DocumentLink[]>('vscode.executeLinkProvider', channel.uri);
      const link = links.find((l) => l.target?.fsPath === mainPy && l.target.fragment === `L${sleepLine}`);
      assert.ok(link, `a link to ${mainPy}#L${sleepLine} among ${links.map((l) => l.target?.toString()).join(', ')}`);
    } finally {
      slow.destroy();
      await vscode.commands.executeCommand('serverWorkers.stop', name);
    }
    for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
  });
});
