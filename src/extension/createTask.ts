/** "Create a task...": a few questions, then a `serverworkers` entry in the folder's .vscode/tasks.json. */
import * as vscode from 'vscode';
import { adapterFor, installedServers } from '../core/adapters';
import { detectApps } from '../core/appDetection';
import { MAX_WORKERS, parseBind, SERVER_KINDS, type ServerDefinition, type ServerKind } from '../core/definition';
import { detectEnvironment } from '../core/pythonEnvironment';
import { TASK_TYPE } from './taskProvider';

/** Answers given up front (by a caller or a test) skip their question. */
export interface TaskAnswers {
  folder?: string;
  label?: string;
  app?: string;
  server?: ServerKind;
  workers?: number;
  bind?: string;
  /** Written as the task's env when given (no question asks for it). */
  env?: Record<string, string>;
}

/**
 * Asks what is not answered, writes the task, and returns its label (undefined when the user cancels). `interpreter`:
 * the folder's interpreter, whose installed servers are offered first.
 */
export async function createTask(answers: TaskAnswers = {}, interpreter?: (folder: vscode.WorkspaceFolder) => Promise<string>): Promise<string | undefined> {
  const folder = await pickFolder(answers.folder);
  if (!folder) return undefined;
  const detected = folder.uri.scheme === 'file' ? await detectApps(folder.uri.fsPath) : [];

  let app = answers.app;
  let server = answers.server;
  let workerClass: string | undefined;
  if (!app) {
    const other = vscode.l10n.t('Another app (module:attribute)...');
    const picked = await vscode.window.showQuickPick(
      [...detected.map((d) => ({ label: d.definition.app, description: d.source, app: d.definition })), { label: other, description: '', app: undefined }],
      { title: vscode.l10n.t('Create a Server Workers task (1/4): the app'), placeHolder: vscode.l10n.t('Which app do the workers serve?') },
    );
    if (!picked) return undefined;
    if (picked.app) {
      app = picked.app.app;
      workerClass = picked.app.workerClass;
    } else {
      app = await vscode.window.showInputBox({
        title: vscode.l10n.t('Create a Server Workers task (1/4): the app'),
        prompt: vscode.l10n.t('The application as module:attribute'),
        placeHolder: 'main:app',
        validateInput: (v) => (/^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(\(.*\))?$/.test(v.trim()) ? undefined : vscode.l10n.t('Write it as module:attribute, for example main:app.')),
      });
      if (!app) return undefined;
      app = app.trim();
    }
  }
  if (!server) {
    const picked = await vscode.window.showQuickPick(await serverChoices(folder, interpreter), { title: vscode.l10n.t('Create a Server Workers task (2/4): the process manager') });
    if (!picked?.server) return undefined;
    server = picked.server;
  }
  let workers = answers.workers;
  if (workers === undefined) {
    const value = await vscode.window.showInputBox({
      title: vscode.l10n.t('Create a Server Workers task (3/4): workers'),
      prompt: vscode.l10n.t('How many worker processes? (1 to {0})', MAX_WORKERS),
      value: '2',
      validateInput: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_WORKERS ? undefined : vscode.l10n.t('A whole number from 1 to {0}.', MAX_WORKERS)),
    });
    if (value === undefined) return undefined;
    workers = Number(value);
  }
  let bind = answers.bind;
  if (!bind) {
    bind = await vscode.window.showInputBox({
      title: vscode.l10n.t('Create a Server Workers task (4/4): address'),
      prompt: vscode.l10n.t('host:port to listen on (127.0.0.1 keeps it on this machine)'),
      value: '127.0.0.1:8000',
      validateInput: (v) => (parseBind(v) ? undefined : vscode.l10n.t('Write it as host:port, for example 127.0.0.1:8000.')),
    });
    if (!bind) return undefined;
  }

  const config = vscode.workspace.getConfiguration('tasks', folder.uri);
  const existing = (config.get<Array<Record<string, unknown>>>('tasks') ?? []).slice();
  const label = uniqueLabel(answers.label ?? (server === 'gunicorn' ? 'api' : `api (${server})`), existing);
  const task: Record<string, unknown> & Partial<ServerDefinition> = { label, type: TASK_TYPE, server, app, workers, bind };
  if (server === 'gunicorn' && workerClass && workerClass !== 'uvicorn_worker.UvicornWorker') task.workerClass = workerClass;
  // The app detection names Gunicorn's "sync" class for WSGI apps (Flask, Django): Granian must be told.
  if (server === 'granian' && workerClass === 'sync') task.interface = 'wsgi';
  if (answers.env) task.env = answers.env;
  if (!config.get('version')) await config.update('version', '2.0.0', vscode.ConfigurationTarget.WorkspaceFolder);
  await config.update('tasks', [...existing, task], vscode.ConfigurationTarget.WorkspaceFolder);
  return label;
}

interface ServerChoice extends vscode.QuickPickItem {
  server?: ServerKind;
}

/** The servers installed in the folder's interpreter first; the others after, saying they are not installed there. */
async function serverChoices(folder: vscode.WorkspaceFolder, interpreter: ((folder: vscode.WorkspaceFolder) => Promise<string>) | undefined): Promise<ServerChoice[]> {
  const descriptions: Record<ServerKind, string> = {
    gunicorn: vscode.l10n.t('forks workers; scale, reload and respawn by signals'),
    uvicorn: vscode.l10n.t('uvicorn --workers; spawns workers'),
    granian: vscode.l10n.t('Rust server, forks Python workers; respawns, reloads by signal, scales by restarting'),
    hypercorn: vscode.l10n.t('hypercorn --workers; reloads by signal, scales by restarting, stops when a worker dies'),
  };
  let python: string | undefined;
  let installed: ServerKind[] | undefined;
  try {
    python = interpreter ? await interpreter(folder) : undefined;
    installed = python ? installedServers(await detectEnvironment(python)) : undefined;
  } catch {
    installed = undefined; // the interpreter could not be asked: offer every server alike
  }
  const choice = (server: ServerKind): ServerChoice => ({ label: server, description: descriptions[server], server });
  if (!installed || !python) return SERVER_KINDS.map(choice);
  const missing = SERVER_KINDS.filter((server) => !installed.includes(server));
  if (missing.length === 0) return SERVER_KINDS.map(choice);
  return [
    ...installed.map(choice),
    { label: vscode.l10n.t('not installed in {0}', python), kind: vscode.QuickPickItemKind.Separator },
    ...missing.map((server) => ({ ...choice(server), detail: vscode.l10n.t('Install it with: {0} -m pip install {1}', python, adapterFor(server).packageName) })),
  ];
}

function uniqueLabel(wanted: string, existing: Array<Record<string, unknown>>): string {
  const labels = new Set(existing.map((t) => t.label));
  let label = wanted;
  for (let n = 2; labels.has(label); n++) label = `${wanted} ${n}`;
  return label;
}

async function pickFolder(wanted: string | undefined): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a folder first: the task goes into its .vscode/tasks.json.'));
    return undefined;
  }
  if (wanted) return folders.find((f) => f.name === wanted || f.uri.fsPath === wanted);
  if (folders.length === 1) return folders[0];
  return vscode.window.showWorkspaceFolderPick({ placeHolder: vscode.l10n.t('Which folder gets the task?') });
}
