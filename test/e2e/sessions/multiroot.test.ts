/**
 * A multi-root workspace, in its own code-server session: two folders ("shop" with Gunicorn, "blog" with Uvicorn),
 * each with a task labelled "api". Both servers run at once, each with its own tree node, channels and status item,
 * named after its folder; each serves from its own folder; stopping them leaves nothing.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonc } from '../../../src/core/tasksFile';
import { alive, api, getJson, portFree, processesIn, readyServer, waitUntil } from '../support';

interface FolderServer {
  folder: vscode.WorkspaceFolder;
  name: string;
  port: number;
}

function serversOfWorkspace(): FolderServer[] {
  return (vscode.workspace.workspaceFolders ?? []).map((folder) => {
    const tasks = (parseJsonc(fs.readFileSync(path.join(folder.uri.fsPath, '.vscode', 'tasks.json'), 'utf8')) as { tasks: Array<{ bind: string }> }).tasks;
    return { folder, name: `${folder.name}/api`, port: Number(tasks[0].bind.split(':')[1]) };
  });
}

describe('Multi-root workspace', () => {
  it('runs an "api" task of each folder at once: a tree node, channels and a status item each, named after the folder; Stop leaves nothing', async function () {
    this.timeout(180000); // two servers start at once: on a loaded machine more than mocha's 60 s
    const workersApi = await api();
    const servers = serversOfWorkspace();
    assert.deepStrictEqual(servers.map((s) => s.folder.name), ['shop', 'blog'], 'the harness opened the two-folder workspace');

    const tasks = (await vscode.tasks.fetchTasks({ type: 'serverworkers' })).filter((t) => t.name === 'api');
    for (const server of servers) {
      const task = tasks.find((t) => (t.scope as vscode.WorkspaceFolder | undefined)?.uri?.toString() === server.folder.uri.toString());
      assert.ok(task, `the "api" task of ${server.folder.name} is listed with its folder as scope`);
      await vscode.tasks.executeTask(task);
    }
    const models = await Promise.all(servers.map((s) => waitUntil(`${s.name} with 2 ready workers`, () => readyServer(workersApi, s.name, 2))));

    const rows = workersApi.treeRows().filter((r) => r.depth === 0).map((r) => r.label);
    assert.deepStrictEqual(rows.sort(), servers.map((s) => s.name).sort(), 'one tree node per server, named after its folder');
    const status = workersApi.statusTexts();
    for (const server of servers) assert.ok(status.some((text) => text.includes(server.name)), `a status item for ${server.name}: ${JSON.stringify(status)}`);

    const allPids = models.flatMap((m) => [m.master!.pid, ...m.workers.map((w) => w.pid)]);
    assert.strictEqual(new Set(allPids).size, allPids.length, 'no process is shared between the servers');
    for (const [i, server] of servers.entries()) {
      const model = models[i];
      assert.ok(processesIn(server.folder.uri.fsPath).includes(model.master!.pid), `${server.name}'s master runs in its own folder`);
      const answer = await getJson(`http://127.0.0.1:${server.port}/pid`);
      assert.ok(model.workers.some((w) => w.pid === answer.pid), `${server.name} answers from one of its own workers`);
      const lines = workersApi.channelLines(server.name, 1);
      assert.ok(lines.length > 0, `${server.name} · worker 1 has its own channel with lines`);
      const pid = model.workers.find((w) => w.slot === 1)!.pid;
      const others = allPids.filter((p) => p !== pid && model.master!.pid !== p);
      assert.ok(!lines.some((line) => others.some((other) => line.includes(`[${other}]`))), `${server.name} · worker 1 holds no other process's lines`);
    }

    for (const server of servers) await vscode.commands.executeCommand('serverWorkers.stop', server.name);
    for (const pid of allPids) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
    for (const server of servers) {
      const left = processesIn(server.folder.uri.fsPath).map((pid) => `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ')}`);
      assert.deepStrictEqual(left, [], `nothing of ${server.name} runs in ${server.folder.name}`);
      assert.ok(await portFree(server.port), `port ${server.port} is free`);
    }
    await waitUntil('both servers to leave the tree', () => workersApi.treeRows().length === 0, 5000);
  });
});
