/** The everyday experience in a real VS Code: the tree through scaling from its commands, channels, tasks, preLaunchTask. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonc } from '../../src/core/tasksFile';
import type { WorkersNode } from '../../src/extension/workersTree';
import { oldUvicornPython } from '../support/paths';
import { alive, api, freePort, getJson, parentOf, readyServer, serverNamed, type TestApi, waitUntil } from './support';

function folder(): vscode.WorkspaceFolder {
  return vscode.workspace.workspaceFolders![0];
}

function serverNode(workersApi: TestApi, name: string): WorkersNode {
  const id = serverNamed(workersApi, name)!.id;
  return workersApi.treeNodes().find((n) => n.kind === 'server' && n.serverId === id)!;
}

/** The tree's rows under a server equal the model, and the model equals /proc. */
function assertTreeMatches(workersApi: TestApi, name: string, count: number): void {
  const model = readyServer(workersApi, name, count);
  assert.ok(model, `${name} has ${count} ready workers`);
  const rows = workersApi.treeRows();
  const at = rows.findIndex((r) => r.depth === 0 && r.label === name);
  const children = rows.slice(at + 1).filter((r, i, all) => r.depth === 1 && all.slice(0, i).every((x) => x.depth > 0));
  assert.deepStrictEqual(
    children.map((r) => `${r.label} ${/pid (\d+)/.exec(r.tooltip)?.[1]}`),
    [`master ${model.master!.pid}`, ...model.workers.map((w) => `worker ${w.slot} ${w.pid}`)],
  );
  assert.match(rows[at].description, new RegExp(`${count}/${count} ready`));
  for (const worker of model.workers) {
    assert.ok(alive(worker.pid), `worker ${worker.pid} alive`);
    assert.strictEqual(parentOf(worker.pid), model.master!.pid);
  }
}

describe('The Workers view, channels and tasks', () => {
  it('scales up and down from the tree\'s commands, and the rows follow the workers in /proc', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `scale-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });
    await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
    assertTreeMatches(workersApi, name, 2);
    assert.ok(workersApi.statusTexts().some((t) => t.includes(`${name} 2/2`)), `a status item says 2/2: ${workersApi.statusTexts()}`);

    await vscode.commands.executeCommand('serverWorkers.scaleUp', serverNode(workersApi, name));
    await waitUntil('3 ready workers', () => readyServer(workersApi, name, 3));
    assertTreeMatches(workersApi, name, 3);

    await vscode.commands.executeCommand('serverWorkers.scaleDown', serverNode(workersApi, name));
    await vscode.commands.executeCommand('serverWorkers.scaleDown', serverNode(workersApi, name));
    await waitUntil('1 ready worker', () => readyServer(workersApi, name, 1));
    assertTreeMatches(workersApi, name, 1);
    assert.ok(workersApi.statusTexts().some((t) => t.includes(`${name} 1/1`)));

    const pids = [serverNamed(workersApi, name)!.master!.pid, ...serverNamed(workersApi, name)!.workers.map((w) => w.pid)];
    await vscode.commands.executeCommand('serverWorkers.stop', serverNode(workersApi, name));
    for (const pid of pids) assert.ok(!alive(pid), `${pid} gone`);
    assert.ok(!workersApi.statusTexts().some((t) => t.includes(name)), 'the status item is gone');
  });

  it('a worker\'s channel holds exactly that worker\'s lines', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `channels-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });
    const model = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
    const served = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const answer = await getJson(`http://127.0.0.1:${port}/log?message=m${i}`);
      served.set(answer.pid as number, (served.get(answer.pid as number) ?? 0) + 1);
    }
    await waitUntil('every line in the channels', () => {
      const count = model.workers.reduce((n, w) => n + workersApi.channelLines(name, w.slot).filter((l) => / from worker \d+: m\d+$/.test(l)).length, 0);
      return count === 80 ? true : undefined;
    }, 10000);
    for (const worker of model.workers) {
      const lines = workersApi.channelLines(name, worker.slot).filter((l) => / from worker \d+: m\d+$/.test(l));
      assert.strictEqual(lines.length, 2 * (served.get(worker.pid) ?? 0), `worker ${worker.slot} has a print and a log line per request it served`);
      for (const line of lines) assert.match(line, new RegExp(` from worker ${worker.pid}: `), `only its own lines: ${line}`);
    }
    assert.ok(!workersApi.channelLines(name, 0).some((l) => / from worker \d+: m\d+$/.test(l)), 'none in the master channel');
    assert.ok(workersApi.channelLines(name, 0).some((l) => l.includes('Listening at')), 'the master channel has the master\'s lines');
    await vscode.commands.executeCommand('serverWorkers.stop', name);
  });

  it('lists the tasks of tasks.json and the apps it detects in the workspace', async () => {
    await api();
    const names = (await vscode.tasks.fetchTasks({ type: 'serverworkers' })).map((t) => t.name);
    for (const expected of ['api', 'api (uvicorn)', 'gunicorn main:app']) assert.ok(names.includes(expected), `${expected} in ${JSON.stringify(names)}`);
  });

  it('Create a task writes valid JSON, and a launch.json preLaunchTask waits until every worker is ready', async () => {
    const workersApi = await api();
    const port = await freePort();
    const label = `prelaunch-${port}`;
    const tasksFile = path.join(folder().uri.fsPath, '.vscode', 'tasks.json');
    const original = fs.readFileSync(tasksFile, 'utf8');
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-e2e-'));
    try {
      // A 3 s startup makes "ready" come well after "starting", so a preLaunchTask that did not wait would be caught.
      const env = { STARTUP_DELAY: '3' };
      const created = await vscode.commands.executeCommand('serverWorkers.createTask', { label, app: 'main:app', server: 'gunicorn', workers: 2, bind: `127.0.0.1:${port}`, env });
      assert.strictEqual(created, label);
      const written = parseJsonc(fs.readFileSync(tasksFile, 'utf8')) as { version: string; tasks: Array<Record<string, unknown>> };
      assert.strictEqual(written.version, '2.0.0');
      assert.deepStrictEqual(written.tasks.find((t) => t.label === label), { label, type: 'serverworkers', server: 'gunicorn', app: 'main:app', workers: 2, bind: `127.0.0.1:${port}`, env });
      assert.ok(written.tasks.some((t) => t.label === 'api'), 'the existing tasks are kept');
      assert.ok((await vscode.tasks.fetchTasks({ type: 'serverworkers' })).some((t) => t.name === label));

      const probe = path.join(scratch, 'probe.js');
      const result = path.join(scratch, 'result.json');
      fs.writeFileSync(probe, `require('http').get('http://127.0.0.1:${port}/pid', (r) => { let b = ''; r.on('data', (c) => b += c); r.on('end', () => require('fs').writeFileSync(${JSON.stringify(result)}, b)); });\n`);
      let readyWhenDebugStarted: boolean | undefined;
      const started = vscode.debug.onDidStartDebugSession(() => {
        readyWhenDebugStarted ??= readyServer(workersApi, label, 2) !== undefined;
      });
      const ended = new Promise<void>((resolve) => {
        const sub = vscode.debug.onDidTerminateDebugSession(() => {
          sub.dispose();
          resolve();
        });
      });
      const ok = await vscode.debug.startDebugging(folder(), { type: 'node', request: 'launch', name: 'probe', program: probe, preLaunchTask: label, console: 'internalConsole' });
      assert.ok(ok, 'the debug session started');
      await ended;
      started.dispose();
      assert.strictEqual(readyWhenDebugStarted, true, 'both workers were ready when the preLaunchTask let the debug session start');
      const answer = JSON.parse(fs.readFileSync(result, 'utf8')) as { pid: number };
      assert.ok(serverNamed(workersApi, label)!.workers.some((w) => w.pid === answer.pid), 'the program was answered by a worker');
      await vscode.commands.executeCommand('serverWorkers.stop', label);
    } finally {
      fs.writeFileSync(tasksFile, original);
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('Create a task offers first the servers installed in the folder\'s interpreter', async () => {
    await api();
    const tasksFile = path.join(folder().uri.fsPath, '.vscode', 'tasks.json');
    const settingsFile = path.join(folder().uri.fsPath, '.vscode', 'settings.json');
    const original = fs.readFileSync(tasksFile, 'utf8');
    const originalSettings = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : undefined;
    const settings = vscode.workspace.getConfiguration('serverWorkers', folder());
    // This virtualenv has Uvicorn 0.29 and no other server: uvicorn is the one choice offered first.
    await settings.update('python', oldUvicornPython, vscode.ConfigurationTarget.WorkspaceFolder);
    try {
      const label = `installed-${await freePort()}`;
      let created: unknown;
      const creating = vscode.commands.executeCommand('serverWorkers.createTask', { label, app: 'main:app', workers: 2, bind: '127.0.0.1:8000' })
        .then((value) => (created = value ?? null));
      // The pick of the process manager is the one question left: take its first choice once it shows.
      await waitUntil('the process manager\'s choice to be taken', () => {
        if (created === undefined) void vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        return created;
      }, 20000);
      await creating;
      assert.strictEqual(created, label);
      const written = parseJsonc(fs.readFileSync(tasksFile, 'utf8')) as { tasks: Array<Record<string, unknown>> };
      assert.strictEqual(written.tasks.find((t) => t.label === label)?.server, 'uvicorn');
    } finally {
      await settings.update('python', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
      fs.writeFileSync(tasksFile, original);
      if (originalSettings === undefined) fs.rmSync(settingsFile, { force: true });
      else fs.writeFileSync(settingsFile, originalSettings);
    }
  });
});

describe('Boot failures', () => {
  it('show as a problem at the file and line of the traceback, and the server stays in the tree as failed', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `broken-${port}`;
    const module = `broken_${port}`;
    const file = path.join(folder().uri.fsPath, `${module}.py`);
    fs.writeFileSync(file, 'import os\n\nraise RuntimeError("the database is not there")\n');
    try {
      await vscode.commands.executeCommand('serverWorkers.start', { name, app: `${module}:app`, workers: 2, bind: `127.0.0.1:${port}` });
      const failed = await waitUntil('the server to fail', () => {
        const m = serverNamed(workersApi, name);
        return m?.state === 'failed' ? m : undefined;
      }, 30000);
      assert.match(failed.error ?? '', /RuntimeError: the database is not there/);
      const problems = await waitUntil('a problem in the file', () => {
        const diagnostics = vscode.languages.getDiagnostics(vscode.Uri.file(file));
        return diagnostics.length > 0 ? diagnostics : undefined;
      }, 10000);
      assert.strictEqual(problems[0].range.start.line, 2, 'on line 3 (0-based 2), where the exception was raised');
      assert.match(problems[0].message, /RuntimeError: the database is not there/);
      assert.strictEqual(problems[0].source, 'Server Workers');
      const row = workersApi.treeRows().find((r) => r.label === name);
      assert.match(row?.description ?? '', /failed/);
      await vscode.commands.executeCommand('serverWorkers.stop', name);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
