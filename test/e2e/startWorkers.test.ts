/** The walking skeleton, in a real VS Code: Start Workers -> tree and API show the real workers -> Stop leaves nothing. */
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { alive, api, freePort, getJson, parentOf, readyServer, serverNamed, waitUntil } from './support';

describe('Start Workers', () => {
  it('starts 2 gunicorn workers as a task, shows them in the tree, serves HTTP, and Stop leaves no process', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `skeleton-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });

    const model = await waitUntil('2 ready workers in the API', () => readyServer(workersApi, name, 2));
    const masterPid = model.master!.pid;
    const workerPids = model.workers.map((w) => w.pid);
    assert.strictEqual(new Set(workerPids).size, 2, 'two distinct worker pids');
    assert.ok(alive(masterPid), `master ${masterPid} is in /proc`);
    for (const pid of workerPids) {
      assert.ok(alive(pid), `worker ${pid} is in /proc`);
      assert.strictEqual(parentOf(pid), masterPid, `worker ${pid} is a child of the master ${masterPid}`);
    }

    const task = vscode.tasks.taskExecutions.find((execution) => execution.task.name === name);
    assert.ok(task, 'the server runs as a VS Code task');
    assert.strictEqual(task.task.definition.type, 'serverworkers');

    const rows = workersApi.treeRows();
    const serverRow = rows.findIndex((r) => r.depth === 0 && r.label === name);
    assert.ok(serverRow >= 0, `the tree has a row for ${name}: ${JSON.stringify(rows)}`);
    const children = rows.slice(serverRow + 1).filter((r) => r.depth === 1);
    assert.deepStrictEqual(
      children.map((r) => `${r.label} ${/pid (\d+)/.exec(r.tooltip)?.[1]}`),
      [`master ${masterPid}`, ...model.workers.map((w) => `worker ${w.slot} ${w.pid}`)],
      'the tree shows the master and exactly the workers in /proc',
    );

    const answer = await getJson(`http://127.0.0.1:${port}/pid`);
    assert.ok(workerPids.includes(answer.pid as number), `the answer came from a worker (${String(answer.pid)} in ${workerPids})`);

    await vscode.commands.executeCommand('serverWorkers.stop', name);
    for (const pid of [masterPid, ...workerPids]) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
    await waitUntil('the server to leave the tree', () => !workersApi.treeRows().some((r) => r.label === name), 5000);
    await waitUntil('the task to end', () => !vscode.tasks.taskExecutions.some((e) => e.task.name === name), 5000);
  });

  it('terminating the task stops the server and its workers', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `terminate-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });
    const model = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
    const pids = [model.master!.pid, ...model.workers.map((w) => w.pid)];

    const execution = vscode.tasks.taskExecutions.find((e) => e.task.name === name);
    assert.ok(execution, 'the task is running');
    execution.terminate();

    await waitUntil('every process of the server to exit', () => pids.every((pid) => !alive(pid)), 15000);
    await waitUntil('the server to leave the API', () => serverNamed(workersApi, name) === undefined, 5000);
  });

  it('says which interpreter lacks gunicorn, and starts nothing', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `no-gunicorn-${port}`;
    // This virtualenv has only uvicorn 0.29 (the test set-up makes it).
    const python = `${vscode.workspace.workspaceFolders![0].uri.fsPath}/../../.venv-uvicorn-0.29/bin/python`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}`, python });
    const failed = await waitUntil('the server to fail', () => {
      const m = serverNamed(workersApi, name);
      return m?.state === 'failed' ? m : undefined;
    }, 30000);
    assert.match(failed.error ?? '', /gunicorn is not installed in the Python interpreter .*\.venv-uvicorn-0\.29\/bin\/python/);
    assert.match(failed.error ?? '', /pip install gunicorn/);
    assert.strictEqual(failed.master, undefined, 'no master process');
    assert.strictEqual(failed.workers.length, 0, 'no workers');
    await vscode.commands.executeCommand('serverWorkers.stop', name);
    assert.strictEqual(serverNamed(workersApi, name), undefined, 'Stop dismisses a failed server');
  });
});
