/**
 * Debugging one worker in a real VS Code: `vscode.debug.startDebugging` with "request": "launch" and "attach" (and
 * "Debug Worker" on a tree node); a debug adapter tracker sees debugpy's `stopped` event at the breakpoint.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as vscode from 'vscode';
import { alive, api, freePort, readyServer, serverNamed, waitUntil } from './support';

interface AdapterMessage {
  type: string;
  event?: string;
  body?: { reason?: string; threadId?: number };
}

/** Every serverworkers session, and the breakpoint stops its adapter reports, as a DebugAdapterTracker sees them. */
class Tracker implements vscode.Disposable {
  readonly sessions: vscode.DebugSession[] = [];
  /** Every `stopped` event for a breakpoint, in any session, in the order they came. */
  private readonly stops: Array<{ session: vscode.DebugSession; threadId: number }> = [];
  private readonly registration = vscode.debug.registerDebugAdapterTrackerFactory('serverworkers', {
    createDebugAdapterTracker: (session) => {
      this.sessions.push(session);
      return {
        onDidSendMessage: (message: AdapterMessage) => {
          if (message.type === 'event' && message.event === 'stopped' && message.body?.reason === 'breakpoint') {
            this.stops.push({ session, threadId: message.body.threadId ?? -1 });
          }
        },
      };
    },
  });

  /** The first `stopped` event for a breakpoint, in any session (after `skip` of them). */
  stopped(skip = 0): { session: vscode.DebugSession; threadId: number } | undefined {
    return this.stops[skip];
  }

  dispose(): void {
    this.registration.dispose();
  }
}

function folder(): vscode.WorkspaceFolder {
  return vscode.workspace.workspaceFolders![0];
}

function mainPy(): vscode.Uri {
  return vscode.Uri.joinPath(folder().uri, 'main.py');
}

function lineOf(uri: vscode.Uri, text: string): number {
  const index = fs.readFileSync(uri.fsPath, 'utf8').split('\n').findIndex((line) => line.includes(text));
  assert.ok(index >= 0, `"${text}" is in ${uri.fsPath}`);
  return index + 1;
}

function breakpointAt(uri: vscode.Uri, line: number): vscode.SourceBreakpoint {
  const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(uri, new vscode.Position(line - 1, 0)));
  vscode.debug.addBreakpoints([breakpoint]);
  return breakpoint;
}

/** The worker pid that a session of ours debugs. */
function sessionPid(session: vscode.DebugSession): number {
  return (session.configuration as { __serverWorkers?: { pid: number } }).__serverWorkers?.pid ?? -1;
}

async function topLine(session: vscode.DebugSession, threadId: number): Promise<number> {
  const trace = (await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 })) as { stackFrames: Array<{ line: number }> };
  return trace.stackFrames[0].line;
}

/** GET that resolves with the answering pid, or undefined when it failed. */
function getPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/pid', agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        try {
          resolve((JSON.parse(text) as { pid: number }).pid);
        } catch {
          resolve(undefined);
        }
      });
    });
    request.setTimeout(30000, () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}

function workerRow(workersApi: Awaited<ReturnType<typeof api>>, name: string, slot: number) {
  const rows = workersApi.treeRows();
  const server = rows.findIndex((r) => r.depth === 0 && r.label === name);
  return rows.slice(server + 1).find((r) => r.depth === 1 && r.label === `worker ${slot}`);
}

describe('Debugging a worker', () => {
  let tracker: Tracker;
  let breakpoints: vscode.Breakpoint[] = [];
  beforeEach(() => {
    tracker = new Tracker();
  });
  afterEach(async () => {
    vscode.debug.removeBreakpoints(breakpoints);
    breakpoints = [];
    tracker.dispose();
    while (vscode.debug.activeDebugSession) {
      await vscode.debug.stopDebugging();
    }
  });

  it('launch: worker 1 waits for the debugger at boot, a module-level breakpoint stops it, ending the session stops the server', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `debug-launch-${port}`;
    const moduleLine = lineOf(mainPy(), 'app = FastAPI(');
    breakpoints.push(breakpointAt(mainPy(), moduleLine));

    const started = await vscode.debug.startDebugging(folder(), {
      type: 'serverworkers',
      request: 'launch',
      name: 'e2e launch',
      serverName: name,
      app: 'main:app',
      workers: 2,
      bind: `127.0.0.1:${port}`,
      timeout: 2,
      debugWorkers: 1,
      justMyCode: false,
    });
    assert.ok(started, 'the launch session started');
    const stop = await waitUntil('the breakpoint\'s stopped event', () => tracker.stopped(), 45000);
    assert.strictEqual(await topLine(stop.session, stop.threadId), moduleLine, 'stopped at the module-level line');

    const model = serverNamed(workersApi, name);
    assert.ok(model, 'the server is in the API');
    const worker1 = model.workers.find((w) => w.slot === 1)!;
    assert.strictEqual(worker1.debugging, true, 'worker 1 is marked as debugged');
    assert.match(workerRow(workersApi, name, 1)?.description ?? '', /debugging/, 'the tree row says so');
    await waitUntil('worker 2 to serve', () => serverNamed(workersApi, name)?.workers.find((w) => w.slot === 2)?.state === 'ready', 30000);
    assert.strictEqual(await getPid(port), serverNamed(workersApi, name)!.workers.find((w) => w.slot === 2)!.pid, 'worker 2 serves meanwhile');

    vscode.debug.removeBreakpoints(breakpoints);
    await stop.session.customRequest('continue', { threadId: stop.threadId });
    const ready = await waitUntil('both workers ready', () => readyServer(workersApi, name, 2), 30000);
    const pids = [ready.master!.pid, ...ready.workers.map((w) => w.pid)];

    await vscode.debug.stopDebugging(stop.session);
    await waitUntil('the server to stop with the session', () => serverNamed(workersApi, name) === undefined, 20000);
    await waitUntil('every process of the server to exit', () => pids.every((pid) => !alive(pid)), 10000);
  });

  it('launch with "debugWorkers": "all": every worker has its session (children of the launch\'s) and stops at the breakpoint', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `debug-all-${port}`;
    const moduleLine = lineOf(mainPy(), 'app = FastAPI(');
    breakpoints.push(breakpointAt(mainPy(), moduleLine));

    const started = await vscode.debug.startDebugging(folder(), {
      type: 'serverworkers', request: 'launch', name: 'e2e launch all', serverName: name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}`, debugWorkers: 'all',
    });
    assert.ok(started, 'the launch session started');
    const first = await waitUntil('a first stop', () => tracker.stopped(0), 45000);
    const second = await waitUntil('a second stop', () => tracker.stopped(1), 45000);
    assert.notStrictEqual(first.session.id, second.session.id, 'two sessions');
    const child = [first.session, second.session].find((s) => s.parentSession !== undefined);
    assert.ok(child, 'one is a child session of the launch');
    const pids = [first, second].map((s) => sessionPid(s.session)).sort();
    assert.deepStrictEqual(pids, serverNamed(workersApi, name)!.workers.map((w) => w.pid).sort(), 'one session per worker');
    assert.ok(serverNamed(workersApi, name)!.workers.every((w) => w.debugging), 'both marked');

    vscode.debug.removeBreakpoints(breakpoints);
    for (const stop of [first, second]) await stop.session.customRequest('continue', { threadId: stop.threadId });
    const ready = await waitUntil('both workers ready', () => readyServer(workersApi, name, 2), 30000);
    const all = [ready.master!.pid, ...ready.workers.map((w) => w.pid)];
    const main = [first.session, second.session].find((s) => s.parentSession === undefined)!;
    await vscode.debug.stopDebugging(main);
    await waitUntil('the server to stop with the session', () => serverNamed(workersApi, name) === undefined, 20000);
    await waitUntil('every process of the server to exit', () => all.every((pid) => !alive(pid)), 10000);
  });

  it('launch: an interpreter without debugpy (and no Python Debugger extension) starts nothing', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `debug-nodebugpy-${port}`;
    // This virtualenv has only uvicorn 0.29 (the test set-up makes it).
    const python = `${folder().uri.fsPath}/../../.venv-uvicorn-0.29/bin/python`;
    const started = await vscode.debug.startDebugging(folder(), {
      type: 'serverworkers', request: 'launch', name: 'e2e no debugpy', serverName: name, server: 'uvicorn', app: 'main:app', workers: 2, bind: `127.0.0.1:${port}`, python,
    });
    assert.strictEqual(started, false, 'no session');
    assert.strictEqual(serverNamed(workersApi, name), undefined, 'no server');
  });

  it('attach: a breakpoint in a handler of a running worker stops it; the session\'s end recycles that worker', async () => {
    const workersApi = await api();
    const port = await freePort();
    const name = `debug-attach-${port}`;
    await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}`, timeout: 2 });
    const model = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
    const target = model.workers.find((w) => w.slot === 1)!;
    const handlerLine = lineOf(mainPy(), 'return {"pid": os.getpid()}');
    breakpoints.push(breakpointAt(mainPy(), handlerLine));

    const started = await vscode.debug.startDebugging(folder(), { type: 'serverworkers', request: 'attach', name: 'e2e attach', pid: target.pid, justMyCode: false });
    assert.ok(started, 'the attach session started');
    await waitUntil('the tree to mark worker 1', () => /debugging/.test(workerRow(workersApi, name, 1)?.description ?? ''), 10000);
    assert.match(workerRow(workersApi, name, 1)?.contextValue ?? '', /worker debugging/);

    const answers: Array<Promise<number | undefined>> = [];
    for (let i = 0; i < 200 && !tracker.stopped(); i++) {
      answers.push(getPid(port));
      await new Promise((r) => setTimeout(r, 50));
    }
    const stop = await waitUntil('the breakpoint\'s stopped event', () => tracker.stopped(), 20000);
    assert.strictEqual(await topLine(stop.session, stop.threadId), handlerLine, 'stopped in the handler');
    await new Promise((r) => setTimeout(r, 3500)); // past Gunicorn's --timeout 2
    assert.strictEqual(serverNamed(workersApi, name)!.workers.find((w) => w.slot === 1)!.pid, target.pid, 'the paused worker was not replaced');

    vscode.debug.removeBreakpoints(breakpoints);
    await stop.session.customRequest('continue', { threadId: stop.threadId });
    const pids = await Promise.all(answers);
    assert.ok(pids.every((p) => p !== undefined), 'every request got its answer');
    assert.ok(pids.includes(target.pid), 'the debugged worker answered once it continued');

    await vscode.debug.stopDebugging(stop.session);
    const recycled = await waitUntil('worker 1 to be recycled', () => {
      const w = serverNamed(workersApi, name)?.workers.find((x) => x.slot === 1);
      return w && w.pid !== target.pid && w.state === 'ready' ? w : undefined;
    }, 30000);
    assert.strictEqual(recycled.debugging, false);
    assert.ok(!alive(target.pid), 'the debugged worker is gone');
    assert.doesNotMatch(workerRow(workersApi, name, 1)?.description ?? '', /debugging/);

    // "Debug Worker" in the tree does the same for worker 2.
    const node = workersApi.treeNodes().find((n) => n.kind === 'worker' && n.slot === 2 && workersApi.servers().find((s) => s.id === n.serverId)?.name === name);
    assert.ok(node, 'the tree has a node for worker 2');
    const before = tracker.sessions.length;
    assert.strictEqual(await vscode.commands.executeCommand('serverWorkers.debugWorker', node), true, 'Debug Worker started a session');
    await waitUntil('a session for worker 2', () => tracker.sessions.length > before, 15000);
    const session = tracker.sessions[tracker.sessions.length - 1];
    const worker2 = serverNamed(workersApi, name)!.workers.find((w) => w.slot === 2)!;
    assert.strictEqual(sessionPid(session), worker2.pid);
    await waitUntil('worker 2 marked', () => serverNamed(workersApi, name)?.workers.find((w) => w.slot === 2)?.debugging, 10000);
    await vscode.debug.stopDebugging(session);
    await waitUntil('worker 2 to be recycled', () => serverNamed(workersApi, name)?.workers.find((w) => w.slot === 2 && w.pid !== worker2.pid && w.state === 'ready'), 30000);

    const last = serverNamed(workersApi, name)!;
    const all = [last.master!.pid, ...last.workers.map((w) => w.pid)];
    await vscode.commands.executeCommand('serverWorkers.stop', name);
    for (const pid of all) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
  });
});
