/** Deployment concepts in a real VS Code: autoStart, Save Worker Count to the Task. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseJsonc } from '../../src/core/tasksFile';
import { alive, api, freePort, readyServer, serverNamed, waitUntil } from './support';

const tasksFile = () => path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.vscode', 'tasks.json');
const settingsFile = () => path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.vscode', 'settings.json');

describe('Deployment concepts', () => {
  it('autoStart starts the named tasks; Save Worker Count writes the scaled count back to tasks.json', async () => {
    const workersApi = await api();
    const port = await freePort();
    const label = `auto-${port}`;
    const originalTasks = fs.readFileSync(tasksFile(), 'utf8');
    const hadSettings = fs.existsSync(settingsFile());
    const originalSettings = hadSettings ? fs.readFileSync(settingsFile(), 'utf8') : '';
    const folder = vscode.workspace.workspaceFolders![0];
    try {
      await vscode.commands.executeCommand('serverWorkers.createTask', { label, app: 'main:app', server: 'gunicorn', workers: 2, bind: `127.0.0.1:${port}` });
      await vscode.workspace.getConfiguration('serverWorkers', folder).update('autoStart', [label], vscode.ConfigurationTarget.WorkspaceFolder);
      const started = await vscode.commands.executeCommand<string[]>('serverWorkers.runAutoStart');
      assert.deepStrictEqual(started, [label]);
      await waitUntil('the autoStart task to run 2 workers', () => readyServer(workersApi, label, 2));

      await vscode.commands.executeCommand('serverWorkers.scale', label, 3);
      await waitUntil('3 workers', () => readyServer(workersApi, label, 3));
      await vscode.commands.executeCommand('serverWorkers.saveWorkerCount', label);
      const tasks = (parseJsonc(fs.readFileSync(tasksFile(), 'utf8')) as { tasks: Array<Record<string, unknown>> }).tasks;
      assert.strictEqual(tasks.find((t) => t.label === label)?.workers, 3, 'the task now says 3 workers');

      const pids = [serverNamed(workersApi, label)!.master!.pid, ...serverNamed(workersApi, label)!.workers.map((w) => w.pid)];
      await vscode.commands.executeCommand('serverWorkers.stop', label);
      for (const pid of pids) assert.ok(!alive(pid));
    } finally {
      await vscode.workspace.getConfiguration('serverWorkers', folder).update('autoStart', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
      fs.writeFileSync(tasksFile(), originalTasks);
      if (hadSettings) fs.writeFileSync(settingsFile(), originalSettings);
      else fs.rmSync(settingsFile(), { force: true });
    }
  });
});
