/**
 * Workspace Trust, in its own code-server session (the harness enables trust and leaves the folder untrusted; the
 * folder is a scratch copy of the example whose settings autoStart its "api" task): nothing starts from the
 * workspace's configuration. The harness then checks that the Workers view's welcome says why.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonc } from '../../../src/core/tasksFile';
import { api, portFree, processesIn, serverNamed } from '../support';

const folder = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

function apiTaskPort(): number {
  const tasks = (parseJsonc(fs.readFileSync(path.join(folder(), '.vscode', 'tasks.json'), 'utf8')) as { tasks: Array<{ label: string; bind: string }> }).tasks;
  return Number(tasks.find((t) => t.label === 'api')!.bind.split(':')[1]);
}

async function assertNothingStarted(workersApi: Awaited<ReturnType<typeof api>>, port: number): Promise<void> {
  assert.strictEqual(serverNamed(workersApi, 'api'), undefined, 'no server in the API');
  assert.deepStrictEqual(processesIn(folder()), [], 'no process runs in the workspace folder');
  assert.ok(await portFree(port), `nothing listens on port ${port}`);
}

describe('Untrusted workspace', () => {
  before(function () {
    if (vscode.workspace.isTrusted) throw new Error('this session needs an untrusted workspace (the harness sets it up)');
  });

  it('autoStart starts nothing', async () => {
    const workersApi = await api();
    const settings = parseJsonc(fs.readFileSync(path.join(folder(), '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>;
    assert.deepStrictEqual(settings['serverWorkers.autoStart'], ['api'], 'the workspace asks to autoStart api');
    const started = await vscode.commands.executeCommand<string[]>('serverWorkers.runAutoStart');
    assert.deepStrictEqual(started, [], 'runAutoStart started nothing');
    await new Promise((r) => setTimeout(r, 2000)); // the activation's own autoStart had time to do harm
    await assertNothingStarted(workersApi, apiTaskPort());
  });

  it("starting the workspace's task starts no process (Start Workers and Run Task), and the Workers view says why", async () => {
    const workersApi = await api();
    const answer = await settleWithin(vscode.commands.executeCommand('serverWorkers.start', 'api'), 5000);
    assert.deepStrictEqual(answer, { settled: true, value: undefined }, 'Start Workers says why at once and starts nothing');
    // Terminal > Run Task: VS Code asks for trust first; the test run's workbench refuses the dialog, as a user would.
    const fetched = await settleWithin(vscode.tasks.fetchTasks({ type: 'serverworkers' }), 3000);
    const task = fetched.value?.find((t) => t.name === 'api');
    if (task) await settleWithin(vscode.tasks.executeTask(task), 3000);
    await new Promise((r) => setTimeout(r, 2000));
    await assertNothingStarted(workersApi, apiTaskPort());
    await vscode.commands.executeCommand('workbench.view.extension.serverWorkers'); // the harness reads its welcome
  });

  it('Export for Production runs no interpreter of the workspace and writes nothing', async () => {
    await api();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-untrusted-export-'));
    try {
      const answer = await settleWithin(vscode.commands.executeCommand('serverWorkers.exportForProduction', { task: 'api', folder: folder(), format: 'gunicorn', outDir: out }), 5000);
      assert.deepStrictEqual(answer, { settled: true, value: undefined }, 'it says why at once');
      assert.deepStrictEqual(fs.readdirSync(out), [], 'no file written');
      assert.deepStrictEqual(processesIn(folder()), [], 'no process runs in the workspace folder');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('Untrusted workspace: the agent tools', () => {
  it('only the read-only tools are offered, and a changing one starts nothing when called anyway', async () => {
    const workersApi = await api();
    const listed = vscode.lm.tools.filter((t) => t.name.startsWith('server-workers_')).map((t) => t.name.slice('server-workers_'.length)).sort();
    const readOnly = ['get_request_stats', 'get_worker_logs', 'get_worker_stack', 'list_servers', 'wait_for'];
    // The changing tools' `when: isWorkspaceTrusted` hides them from agent mode. VS Code 1.100 applies it to
    // vscode.lm.tools too; later versions list the disabled tools there as well (getAllToolsIncludingDisabled) and
    // filter by `when` where the chat picks its tools: then the tool's own refusal below is what this test can see.
    if (vscode.version.startsWith('1.100.')) assert.deepStrictEqual(listed, readOnly);
    else assert.deepStrictEqual(listed.filter((name) => readOnly.includes(name)), readOnly);
    const answer = await settleWithin(vscode.lm.invokeTool('server-workers_start_server', { input: { task: 'api' }, toolInvocationToken: undefined }), 10000);
    assert.ok(answer.settled, 'the call ends');
    if (answer.value || listed.includes('start_server')) {
      const text = answer.value?.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('') ?? String(answer.error);
      assert.match(text, /^Error: server-workers_start_server changes servers, which Server Workers does not do in an untrusted workspace/);
    }
    await new Promise((r) => setTimeout(r, 1000));
    await assertNothingStarted(workersApi, apiTaskPort());
  });
});

interface Settlement<T> {
  settled: boolean;
  value?: T;
  error?: unknown;
}

async function settleWithin<T>(promise: Thenable<T>, ms: number): Promise<Settlement<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Settlement<T>>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  const settled = Promise.resolve(promise).then(
    (value): Settlement<T> => ({ settled: true, value }),
    (error: unknown): Settlement<T> => ({ settled: true, error }),
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
