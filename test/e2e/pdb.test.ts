/**
 * pdb in a worker, in a real VS Code: breakpoint() in a request handler opens a terminal of its own for that worker,
 * focused, at pdb's prompt; what is typed there reaches pdb (Tab completes, up recalls, Ctrl-C drops the line); `c`
 * completes the request; closing the terminal lets the worker go on. The worker's row says `in pdb` meanwhile.
 */
import * as assert from 'node:assert';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { fixturesDir, testPython } from '../support/paths';
import { alive, api, freePort, readyServer, serverNamed, type TestApi, waitUntil } from './support';

/** GET that waits as long as a person in pdb may take: the JSON body, or the error. */
function getPaused(port: number, pathname: string): Promise<{ body?: Record<string, unknown>; error?: string }> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        try {
          resolve({ body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ error: `not JSON: ${text.slice(0, 200)}` });
        }
      });
    });
    request.setTimeout(60000, () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve({ error: error.message }));
  });
}

function workerRow(workersApi: TestApi, name: string, pid: number) {
  const model = serverNamed(workersApi, name);
  const slot = model?.workers.find((w) => w.pid === pid)?.slot;
  const rows = workersApi.treeRows();
  const server = rows.findIndex((r) => r.depth === 0 && r.label === name);
  return rows.slice(server + 1).find((r) => r.depth === 1 && r.label === `worker ${slot}`);
}

/** The pdb terminal that waits at its prompt now. */
function waitingTerminal(workersApi: TestApi) {
  return workersApi.pdbTerminals().find((t) => t.waiting);
}

describe('pdb in a worker', () => {
  it('breakpoint() opens the worker\'s pdb terminal at the prompt; `p x` shows the value; Tab, up and Ctrl-C work; `c` completes the request; closing the terminal continues the worker', async function () {
    this.timeout(120000);
    const workersApi = await api();
    const port = await freePort();
    const name = `pdb-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', {
      name, app: 'pdb_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, timeout: 2, cwd: path.join(fixturesDir, 'apps'), python: testPython,
    });
    await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));

    const pausing = getPaused(port, '/pause?v=7');
    const opened = await waitUntil('a pdb terminal at its prompt', () => waitingTerminal(workersApi), 30000);
    assert.match(opened.name, new RegExp(`^pdb · ${name} worker [12]$`), 'named after the worker');
    assert.match(opened.text, /-> y = x\.upper\(\)\n\(Pdb\) $/, 'where pdb stopped, then its prompt');
    await waitUntil('the pdb terminal to have the focus', () => vscode.window.activeTerminal?.name === opened.name, 10000);
    assert.match(workerRow(workersApi, name, opened.pid)?.description ?? '', /^in pdb · /, 'the worker\'s row says so');
    const terminal = vscode.window.terminals.find((t) => t.name === opened.name)!;

    terminal.sendText('p x');
    await waitUntil('pdb to print x', () => {
      const view = workersApi.pdbTerminals().find((t) => t.name === opened.name);
      return view?.waiting && view.text.endsWith("(Pdb) p x\n'value-7'\n(Pdb) ") ? view : undefined;
    }, 15000);
    const view = () => workersApi.pdbTerminals().find((t) => t.name === opened.name)!;
    // Tab: pdb in the worker completes the attribute; up: the last line again; Ctrl-C: the line goes, pdb prompts again.
    terminal.sendText('p x.upp', false);
    terminal.sendText('\t', false);
    await waitUntil('Tab to complete', () => view().typed === 'p x.upper ' || undefined, 10000);
    terminal.sendText('()');
    await waitUntil('the completed line\'s answer', () => view().text.endsWith("(Pdb) p x.upper ()\n'VALUE-7'\n(Pdb) ") || undefined, 10000);
    terminal.sendText('\x1b[A', false);
    await waitUntil('up to recall it', () => view().typed === 'p x.upper ()' || undefined, 10000);
    terminal.sendText('\x03', false);
    await waitUntil('Ctrl-C to drop it', () => view().text.endsWith('^C\n--KeyboardInterrupt--\n(Pdb) ') || undefined, 10000);
    terminal.sendText('c');
    assert.deepStrictEqual(await pausing, { body: { pid: opened.pid, y: 'VALUE-7' } }, '`c` completed the request');
    await waitUntil('the row to leave pdb', () => !/in pdb/.test(workerRow(workersApi, name, opened.pid)?.description ?? 'in pdb'), 10000);
    assert.ok(vscode.window.terminals.some((t) => t.name === opened.name), 'the terminal stays for the next breakpoint()');

    // Closing the terminal of a worker in pdb lets it go on.
    const again = getPaused(port, '/pause?v=8');
    const second = await waitUntil('a pdb terminal at its prompt again', () => waitingTerminal(workersApi), 30000);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // past Gunicorn's --timeout 2
    assert.strictEqual(serverNamed(workersApi, name)?.workers.find((w) => w.pid === second.pid)?.state, 'ready', 'the worker in pdb was not killed');
    vscode.window.terminals.find((t) => t.name === second.name)!.dispose();
    assert.deepStrictEqual(await again, { body: { pid: second.pid, y: 'VALUE-8' } }, 'closing the terminal continued the worker');
    await waitUntil('its terminal to be gone', () => !workersApi.pdbTerminals().some((t) => t.name === second.name) || undefined, 10000);

    const model = serverNamed(workersApi, name)!;
    const pids = [model.master!.pid, ...model.workers.map((w) => w.pid)];
    await vscode.commands.executeCommand('serverWorkers.stop', name);
    for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
    await waitUntil('the pdb terminals to close with the server', () => workersApi.pdbTerminals().length === 0 || undefined, 10000);
  });
});
