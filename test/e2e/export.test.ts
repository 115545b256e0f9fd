/**
 * Export for Production in a real VS Code: on a task of the workspace's tasks.json it writes the files; a file that
 * exists with other contents is shown in a diff editor and replaced only when the user says so; the CodeLens over
 * each serverworkers task and the server's row in the Workers view lead to it.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportOutcome } from '../../src/extension/export/exportCommand';
import { api, freePort, readyServer, waitUntil } from './support';

const COMMAND = 'serverWorkers.exportForProduction';

function folder(): string {
  const first = vscode.workspace.workspaceFolders?.[0];
  assert.ok(first, 'a workspace folder is open');
  return first.uri.fsPath;
}

/** A folder inside the workspace for the files (examples/*\/export-test-* is ignored by git), removed by the test. */
function scratch(): string {
  return fs.mkdtempSync(path.join(folder(), 'export-test-e2e-'));
}

function diffTabOf(file: string): vscode.Tab | undefined {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.original.fsPath === file);
}

/** Runs the command; once the diff of `file` shows, answers the question after it with `accept` (Enter) or Escape. */
async function exportAnswering(args: unknown[], file: string, accept: boolean): Promise<ExportOutcome | undefined> {
  let outcome: ExportOutcome | undefined | null = null;
  const running = Promise.resolve(vscode.commands.executeCommand<ExportOutcome | undefined>(COMMAND, ...args)).then((value) => (outcome = value));
  await waitUntil(`the diff editor of ${path.basename(file)}`, () => diffTabOf(file), 20000);
  // The question (a quick pick whose first choice is Replace) follows the diff editor: answer it until the command ends.
  await waitUntil('the question to be answered', () => {
    if (outcome === null) void vscode.commands.executeCommand(accept ? 'workbench.action.acceptSelectedQuickOpenItem' : 'workbench.action.closeQuickOpen');
    return outcome !== null;
  }, 20000);
  await running;
  return outcome ?? undefined;
}

describe('Export for Production', () => {
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('on a task writes the files, and asks before replacing one: a diff editor, then Keep leaves it, Replace writes it', async () => {
    await api();
    const out = scratch();
    try {
      const answers = { task: 'api', folder: folder(), format: 'gunicorn', outDir: out };
      const first = await vscode.commands.executeCommand<ExportOutcome>(COMMAND, answers);
      const conf = path.join(out, 'gunicorn.conf.py');
      assert.deepStrictEqual(first.written, [conf]);
      assert.match(fs.readFileSync(conf, 'utf8'), /^workers = 2 {2}# workers$/m, 'the task\'s 2 workers');
      assert.match(fs.readFileSync(conf, 'utf8'), /^worker_class = "uvicorn_worker\.UvicornWorker"/m);

      const mine = '# tuned by hand\nworkers = 7\n';
      fs.writeFileSync(conf, mine);
      const kept = await exportAnswering([answers], conf, false);
      assert.deepStrictEqual(kept?.kept, [conf], 'the user kept the file');
      assert.deepStrictEqual(kept?.written, []);
      assert.strictEqual(fs.readFileSync(conf, 'utf8'), mine, 'the file is as the user left it');

      const replaced = await exportAnswering([answers], conf, true);
      assert.deepStrictEqual(replaced?.written, [conf]);
      assert.match(fs.readFileSync(conf, 'utf8'), /^workers = 2 {2}# workers$/m, 'replaced once the user said so');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('writes other formats of a task: the Kubernetes files, compose.yaml with its Dockerfile', async () => {
    await api();
    const out = scratch();
    try {
      const k8s = await vscode.commands.executeCommand<ExportOutcome>(COMMAND, { task: 'api', folder: folder(), format: 'kubernetes', outDir: path.join(out, 'k8s'), workersInContainer: false });
      assert.deepStrictEqual(k8s.written.map((f) => path.basename(f)).sort(), ['deployment.yaml', 'hpa.yaml', 'kustomization.yaml', 'service.yaml']);
      assert.match(fs.readFileSync(path.join(out, 'k8s', 'deployment.yaml'), 'utf8'), /^ {2}replicas: 2$/m, 'a pod per worker');
      const compose = await vscode.commands.executeCommand<ExportOutcome>(COMMAND, { task: 'api (uvicorn)', folder: folder(), format: 'compose', outDir: out, workersInContainer: true });
      // Not the project's folder: the ignore file is the one BuildKit reads beside the Dockerfile.
      assert.deepStrictEqual(compose.written.map((f) => path.basename(f)).sort(), ['Dockerfile', 'Dockerfile.dockerignore', 'compose.yaml']);
      assert.match(fs.readFileSync(path.join(out, 'Dockerfile'), 'utf8'), /"--workers","2"/, 'the task\'s workers in one container');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('a CodeLens over each serverworkers task in tasks.json runs it for that task', async () => {
    await api();
    const tasksFile = vscode.Uri.file(path.join(folder(), '.vscode', 'tasks.json'));
    // The lens providers run on an open document.
    const document = await vscode.workspace.openTextDocument(tasksFile);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', tasksFile);
    const ours = lenses.filter((lens) => lens.command?.command === COMMAND);
    const labels = ours.map((lens) => (lens.command!.arguments![0] as { task: string }).task);
    assert.deepStrictEqual(labels, ['api', 'api (uvicorn)', 'api (granian)', 'api (hypercorn)']);
    for (const lens of ours) {
      const label = (lens.command!.arguments![0] as { task: string }).task;
      assert.ok(document.lineAt(lens.range.start.line).text.includes(JSON.stringify(label)), `the lens of "${label}" is on its label's line`);
    }
  });

  it('from a running server\'s row in the Workers view: the task it was started from', async () => {
    const workersApi = await api();
    const out = scratch();
    const port = await freePort();
    const name = `export-row-${port}`;
    try {
      await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'main:app', workers: 2, bind: `127.0.0.1:${port}` });
      const model = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
      const row = workersApi.treeNodes().find((node) => node.kind === 'server' && node.serverId === model.id);
      assert.ok(row, 'the server has a row');
      const outcome = await vscode.commands.executeCommand<ExportOutcome>(COMMAND, row, { format: 'systemd', outDir: out });
      const unit = fs.readFileSync(outcome.written[0], 'utf8');
      assert.match(unit, new RegExp(`--bind 127\\.0\\.0\\.1:${port}`), 'the running server\'s bind');
      assert.match(unit, /--workers 2/);
    } finally {
      await vscode.commands.executeCommand('serverWorkers.stop', name);
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
