/**
 * Reload on save in a real VS Code: a file edited and saved through the editor API reloads the server (the tree shows
 * the new generation, the answers change); a broken save puts a problem at its line and keeps the old code serving;
 * the row's toggle turns reload on save off and on.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorkersNode } from '../../src/extension/workersTree';
import { fixturesDir } from '../support/paths';
import { alive, api, freePort, getJson, readyServer, serverNamed, type TestApi, waitUntil } from './support';

/** The app's folder inside the workspace (the editor edits it there); removed after the test. */
function appFolder(port: number): string {
  const folder = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, `reload-e2e-${port}`);
  fs.mkdirSync(folder, { recursive: true });
  for (const name of ['reload_asgi.py', 'version.py']) fs.copyFileSync(path.join(fixturesDir, 'reload', name), path.join(folder, name));
  return folder;
}

/** Replaces the whole text of `file` in an editor and saves it, as a person would. */
async function editAndSave(file: string, text: string): Promise<void> {
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  const editor = await vscode.window.showTextDocument(document);
  const whole = new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
  assert.ok(await editor.edit((edit) => edit.replace(whole, text)), 'the edit applied');
  assert.ok(await document.save(), 'the document saved');
}

function version(text: string): string {
  return `TEXT = ${JSON.stringify(text)}\n\n\ndef startup():\n    pass\n`;
}

function serverRow(workersApi: TestApi, name: string): { contextValue?: string; description: string } | undefined {
  return workersApi.treeRows().find((r) => r.depth === 0 && r.label === name);
}

function serverNode(workersApi: TestApi, name: string): WorkersNode {
  const id = serverNamed(workersApi, name)!.id;
  return workersApi.treeNodes().find((n) => n.kind === 'server' && n.serverId === id)!;
}

function workerRows(workersApi: TestApi): string[] {
  return workersApi.treeRows().filter((r) => r.depth === 1 && r.label.startsWith('worker')).map((r) => r.description);
}

describe('Reload on save', () => {
  it('a save reloads every worker (the tree shows the new generation); a broken save is a problem at its line while the old code serves; the toggle works', async function () {
    this.timeout(180000);
    const workersApi = await api();
    const port = await freePort();
    const name = `reload-${port}`;
    const folder = appFolder(port);
    const versionFile = path.join(folder, 'version.py');
    const url = `http://127.0.0.1:${port}/`;
    try {
      await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'reload_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, cwd: folder, reload: true });
      const first = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
      await waitUntil('the row to offer turning reload on save off', () => serverRow(workersApi, name)?.contextValue?.includes('reloadOnSave'));
      assert.strictEqual((await getJson(url)).text, 'v0');

      await editAndSave(versionFile, version('saved-1'));
      const reloaded = await waitUntil('generation 2 to serve', () => {
        const model = readyServer(workersApi, name, 2);
        return model && model.workers.every((w) => w.generation === 2) && model.retiring.length === 0 ? model : undefined;
      }, 30000);
      assert.ok(reloaded.workers.every((w) => !first.workers.some((old) => old.pid === w.pid)), 'new worker processes');
      assert.ok(workerRows(workersApi).filter((d) => /gen 2/.test(d)).length >= 2, `the tree shows generation 2: ${workerRows(workersApi)}`);
      assert.strictEqual((await getJson(url)).text, 'saved-1');

      await editAndSave(versionFile, 'TEXT = "saved-2"\n\nthis line is not Python\n');
      const problem = await waitUntil('a problem at version.py line 3', () => vscode.languages.getDiagnostics(vscode.Uri.file(versionFile)).find((d) => d.source === 'Server Workers'), 30000);
      assert.strictEqual(problem.range.start.line, 2, 'the line of the syntax error (0-based)');
      assert.match(problem.message, /SyntaxError/);
      assert.strictEqual(problem.severity, vscode.DiagnosticSeverity.Error);
      await waitUntil('the status bar hint', () => workersApi.statusTexts().some((t) => t.includes(name) && t.includes('reload failed, serving the previous code')), 10000);
      assert.strictEqual((await getJson(url)).text, 'saved-1', 'the previous code serves');
      assert.strictEqual(serverNamed(workersApi, name)!.state, 'running');

      await editAndSave(versionFile, version('saved-3'));
      await waitUntil('the problem to go', () => !vscode.languages.getDiagnostics(vscode.Uri.file(versionFile)).some((d) => d.source === 'Server Workers'), 30000);
      await waitUntil('the new text', () => serverNamed(workersApi, name)?.reload.failure === undefined && serverNamed(workersApi, name)?.state === 'running' ? true : undefined, 30000);
      assert.strictEqual((await getJson(url)).text, 'saved-3');
      assert.ok(!workersApi.statusTexts().some((t) => t.includes('reload failed')), 'the hint is gone');

      await vscode.commands.executeCommand('serverWorkers.disableReloadOnSave', serverNode(workersApi, name));
      await waitUntil('the row to offer turning it on', () => serverRow(workersApi, name)?.contextValue?.includes('reloadOnRequest'));
      const generation = serverNamed(workersApi, name)!.reload.generation;
      await editAndSave(versionFile, version('unsaved-4'));
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.strictEqual(serverNamed(workersApi, name)!.reload.generation, generation, 'no reload while it is off');
      assert.strictEqual((await getJson(url)).text, 'saved-3');

      await vscode.commands.executeCommand('serverWorkers.enableReloadOnSave', serverNode(workersApi, name));
      await editAndSave(versionFile, version('saved-5'));
      await waitUntil('the reload after turning it on', () => (serverNamed(workersApi, name)!.reload.generation > generation ? true : undefined), 30000);
      assert.strictEqual((await getJson(url)).text, 'saved-5');

      const pids = [serverNamed(workersApi, name)!.master!.pid, ...serverNamed(workersApi, name)!.workers.map((w) => w.pid)];
      await vscode.commands.executeCommand('serverWorkers.stop', name);
      for (const pid of pids) assert.ok(!alive(pid), `${pid} gone`);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      if (serverNamed(workersApi, name)) await vscode.commands.executeCommand('serverWorkers.stop', name);
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('Reload on save: a save that hangs or exits at import', () => {
  it('is refused after serverWorkers.reloadTimeout with a problem where it waits, and a save that exits with one at its sys.exit; the old code serves on', async function () {
    this.timeout(180000);
    const workersApi = await api();
    const port = await freePort();
    const name = `reload-refused-${port}`;
    const folder = appFolder(port);
    const versionFile = path.join(folder, 'version.py');
    const url = `http://127.0.0.1:${port}/`;
    const settingsFile = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.vscode', 'settings.json');
    const originalSettings = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : undefined;
    const settings = vscode.workspace.getConfiguration('serverWorkers');
    await settings.update('reloadTimeout', 6, vscode.ConfigurationTarget.Workspace);
    const problem = (line: number, message: RegExp) => vscode.languages.getDiagnostics(vscode.Uri.file(versionFile)).find((d) => d.source === 'Server Workers' && d.range.start.line === line && message.test(d.message));
    try {
      await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'reload_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, cwd: folder, reload: true });
      const first = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));

      const saved = Date.now();
      await editAndSave(versionFile, `import time\ntime.sleep(3600)\n${version('hung')}`);
      await waitUntil('a problem where the import waits', () => problem(1, /did not finish within 6 s \(waiting at version\.py:2\)/), 60000);
      assert.ok(Date.now() - saved >= 6000, 'refused once the setting\'s 6 s had passed');
      await editAndSave(versionFile, `import sys\nsys.exit("DATABASE_URL is not set")\n${version('exits')}`);
      await waitUntil('a problem at the sys.exit', () => problem(1, /SystemExit: DATABASE_URL is not set/), 30000);
      const model = serverNamed(workersApi, name)!;
      assert.strictEqual(model.state, 'running');
      assert.deepStrictEqual(model.workers.map((w) => w.pid), first.workers.map((w) => w.pid), 'the old workers serve on');
      assert.strictEqual((await getJson(url)).text, 'v0');

      await editAndSave(versionFile, version('fixed'));
      await waitUntil('the problem to go', () => !vscode.languages.getDiagnostics(vscode.Uri.file(versionFile)).some((d) => d.source === 'Server Workers'), 30000);
      assert.strictEqual((await getJson(url)).text, 'fixed');
    } finally {
      await settings.update('reloadTimeout', undefined, vscode.ConfigurationTarget.Workspace);
      if (originalSettings === undefined) fs.rmSync(settingsFile, { force: true });
      else fs.writeFileSync(settingsFile, originalSettings);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      if (serverNamed(workersApi, name)) await vscode.commands.executeCommand('serverWorkers.stop', name);
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});

/** Every serverworkers session, and the breakpoint stops its adapter reports. */
class StopTracker implements vscode.Disposable {
  readonly sessions: vscode.DebugSession[] = [];
  readonly stops: Array<{ session: vscode.DebugSession; threadId: number }> = [];
  private readonly registration = vscode.debug.registerDebugAdapterTrackerFactory('serverworkers', {
    createDebugAdapterTracker: (session) => {
      this.sessions.push(session);
      return {
        onDidSendMessage: (message: { type: string; event?: string; body?: { reason?: string; threadId?: number } }) => {
          if (message.type === 'event' && message.event === 'stopped' && message.body?.reason === 'breakpoint') this.stops.push({ session, threadId: message.body.threadId ?? -1 });
        },
      };
    },
  });

  dispose(): void {
    this.registration.dispose();
  }
}

function sessionPid(session: vscode.DebugSession): number {
  return (session.configuration as { __serverWorkers?: { pid: number } }).__serverWorkers?.pid ?? -1;
}

/** Requests until a breakpoint stops a session debugging `pid`: that stop, and the requests still waiting. */
async function stopIn(tracker: StopTracker, port: number, pid: number): Promise<{ stop: { session: vscode.DebugSession; threadId: number }; pending: Array<Promise<unknown>> }> {
  const pending: Array<Promise<unknown>> = [];
  const found = () => tracker.stops.find((s) => sessionPid(s.session) === pid);
  for (let i = 0; i < 200 && !found(); i++) {
    pending.push(getJson(`http://127.0.0.1:${port}/`).catch(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { stop: await waitUntil(`a breakpoint stop in worker ${pid}`, found, 20000), pending };
}

/** No more breakpoints; every stopped session goes on; the requests they held get their answers. */
async function continueAll(tracker: StopTracker, pending: Array<Promise<unknown>>): Promise<void> {
  vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
  for (const stop of tracker.stops) await stop.session.customRequest('continue', { threadId: stop.threadId }).then(undefined, () => undefined);
  await Promise.all(pending);
}

describe('Reload on save with a debugger attached', () => {
  afterEach(async () => {
    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
    while (vscode.debug.activeDebugSession) await vscode.debug.stopDebugging();
  });

  for (const how of ['an attach from the tree', 'a launch configuration'] as const) {
    it(`${how}: the session follows worker 1 to its successor, and the breakpoint stops there`, async function () {
      this.timeout(180000);
      const workersApi = await api();
      const port = await freePort();
      const name = `reload-debug-${port}`;
      const folder = appFolder(port);
      const appFile = path.join(folder, 'reload_asgi.py');
      const line = fs.readFileSync(appFile, 'utf8').split('\n').findIndex((l) => l.includes('payload = json.dumps')) + 1;
      const tracker = new StopTracker();
      try {
        const definition = { app: 'reload_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, cwd: folder, reload: true };
        if (how === 'a launch configuration') {
          const started = await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], { type: 'serverworkers', request: 'launch', name: 'e2e reload launch', serverName: name, debugWorkers: 1, justMyCode: false, ...definition });
          assert.ok(started, 'the launch started');
        } else {
          await vscode.commands.executeCommand('serverWorkers.start', { name, ...definition });
        }
        const before = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
        const old1 = before.workers.find((w) => w.slot === 1)!.pid;
        if (how === 'an attach from the tree') {
          const node = workersApi.treeNodes().find((n) => n.kind === 'worker' && n.slot === 1 && n.serverId === before.id);
          assert.strictEqual(await vscode.commands.executeCommand('serverWorkers.debugWorker', node), true);
        }
        await waitUntil('a session on worker 1', () => tracker.sessions.find((s) => sessionPid(s) === old1), 20000);
        await waitUntil('worker 1 marked as debugged', () => serverNamed(workersApi, name)?.workers.find((w) => w.slot === 1)?.debugging, 20000);

        await editAndSave(path.join(folder, 'version.py'), version('debugged'));
        const after = await waitUntil('generation 2', () => {
          const model = readyServer(workersApi, name, 2);
          return model?.workers.every((w) => w.generation === 2) ? model : undefined;
        }, 30000);
        const new1 = after.workers.find((w) => w.slot === 1)!.pid;
        const followed = await waitUntil('a session on the new worker 1', () => tracker.sessions.find((s) => sessionPid(s) === new1), 30000);
        assert.strictEqual(followed.configuration.name, tracker.sessions.find((s) => sessionPid(s) === old1)!.configuration.name, 'the same configuration');
        await waitUntil('the new worker 1 marked as debugged', () => serverNamed(workersApi, name)?.workers.find((w) => w.slot === 1)?.debugging, 20000);

        vscode.debug.addBreakpoints([new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(appFile), new vscode.Position(line - 1, 0)))]);
        const { stop, pending } = await stopIn(tracker, port, new1);
        const trace = (await stop.session.customRequest('stackTrace', { threadId: stop.threadId, startFrame: 0, levels: 1 })) as { stackFrames: Array<{ line: number }> };
        assert.strictEqual(trace.stackFrames[0].line, line, 'stopped at the breakpoint, in the new worker');
        await continueAll(tracker, pending);
        assert.strictEqual(serverNamed(workersApi, name)?.state, 'running', 'the old session\'s end did not end the server');

        const all = [after.master!.pid, ...after.workers.map((w) => w.pid)];
        await vscode.debug.stopDebugging(stop.session);
        if (serverNamed(workersApi, name)) await vscode.commands.executeCommand('serverWorkers.stop', name);
        await waitUntil('every process of the server to exit', () => all.every((pid) => !alive(pid)), 20000);
      } finally {
        tracker.dispose();
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        if (serverNamed(workersApi, name)) await vscode.commands.executeCommand('serverWorkers.stop', name);
        fs.rmSync(folder, { recursive: true, force: true });
      }
    });
  }
});
