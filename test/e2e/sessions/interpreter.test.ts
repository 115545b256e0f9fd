/**
 * Which interpreter a server gets from the Python extensions, in code-server sessions of their own with stand-ins of
 * those extensions (test/fixtures/standins/: neither can be installed here) loaded beside Server Workers:
 * - "interpreter-environments": both stand-ins; the Python Environments extension's environment of the folder wins,
 *   and a change of it is used by the next start;
 * - "interpreter-python": the Python extension's stand-in only; its active environment is used.
 * The interpreters are wrappers of the test virtualenv's Python that leave a mark in the server's environment
 * (SERVER_WORKERS_INTERPRETER_SEEN), so the master's environment shows which one started it.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { api, readyServer, serverNamed, type TestApi, waitUntil } from '../support';

/** Which of the session's interpreters started the master: the mark its wrapper left in the master's environment. */
function masterInterpreter(workersApi: TestApi, name: string): string | undefined {
  const pid = serverNamed(workersApi, name)?.master?.pid;
  assert.ok(pid, `${name} has a master`);
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return entries.find((entry) => entry.startsWith('SERVER_WORKERS_INTERPRETER_SEEN='))?.split('=')[1];
}

async function startAndStop(workersApi: TestApi): Promise<string | undefined> {
  const task = (await vscode.tasks.fetchTasks({ type: 'serverworkers' })).find((t) => t.name === 'api');
  assert.ok(task, 'the workspace has the "api" task');
  await vscode.tasks.executeTask(task);
  await waitUntil('api with 1 ready worker', () => readyServer(workersApi, 'api', 1), 90000).catch((error: Error) => {
    const model = serverNamed(workersApi, 'api');
    throw new Error(`${error.message}; api is ${model ? `${model.state}${model.error ? `: ${model.error}` : ''}` : 'not in the registry'}`);
  });
  const interpreter = masterInterpreter(workersApi, 'api');
  await vscode.commands.executeCommand('serverWorkers.stop', 'api');
  await waitUntil('api to stop', () => serverNamed(workersApi, 'api') === undefined, 30000);
  return interpreter;
}

describe('The interpreter selected in the Python extensions (stand-ins)', () => {
  const environmentsPython = process.env.SERVER_WORKERS_STANDIN_ENVS_PYTHON;
  const pythonExtensionPython = process.env.SERVER_WORKERS_STANDIN_PYTHON;
  const otherPython = process.env.SERVER_WORKERS_STANDIN_OTHER_PYTHON;

  it('a server without "python" runs with the selected interpreter; a new selection is used by the next start', async function () {
    this.timeout(150000);
    const workersApi = await api();
    if (environmentsPython) {
      assert.ok(vscode.extensions.getExtension('ms-python.vscode-python-envs'), 'the Python Environments stand-in is loaded');
      assert.ok(vscode.extensions.getExtension('ms-python.python'), 'the Python extension stand-in is loaded too');
      assert.strictEqual(await startAndStop(workersApi), 'environments', 'the Python Environments extension\'s environment, before the Python extension\'s');
      await vscode.commands.executeCommand('serverWorkersStandin.selectEnvironment', otherPython);
    } else {
      assert.ok(pythonExtensionPython, 'the session names the Python extension stand-in\'s interpreter');
      assert.strictEqual(vscode.extensions.getExtension('ms-python.vscode-python-envs'), undefined, 'no Python Environments extension in this session');
      assert.strictEqual(await startAndStop(workersApi), 'python-extension', 'the Python extension\'s active environment');
      await vscode.commands.executeCommand('serverWorkersStandin.selectInterpreter', otherPython);
    }
    assert.strictEqual(await startAndStop(workersApi), 'other', 'the next start uses the new selection');
  });
});
