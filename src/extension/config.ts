/** The extension's settings (`serverWorkers.*`), typed, read per folder; one event when any of them changes. */
import * as vscode from 'vscode';

const SECTION = 'serverWorkers';

export interface Settings {
  /** Interpreter for servers whose task names none ("" when unset). */
  python: string;
  /** Load the in-worker agent (exact per-worker output, debugging). */
  agent: boolean;
  /** Request insight: the agent counts each worker's requests (a task's `insight: false` turns it off for that task). */
  requestInsight: boolean;
  /** Labels of serverworkers tasks to start when the workspace opens. */
  autoStart: string[];
  /** Reload a server's workers when a watched file is saved, unless its task's "reload" says otherwise. */
  reloadOnSave: boolean;
  /** Seconds a reload's new code may take to import and boot, unless its task's "reloadTimeout" says otherwise. */
  reloadTimeout: number;
}

export function settings(folder?: vscode.WorkspaceFolder): Settings {
  const forFolder = vscode.workspace.getConfiguration(SECTION, folder);
  const forWindow = vscode.workspace.getConfiguration(SECTION);
  return {
    python: forFolder.get<string>('python', '').trim(),
    // Window settings (package.json gives them no resource scope): read without the folder.
    agent: forWindow.get<boolean>('agent', true),
    requestInsight: forWindow.get<boolean>('requestInsight', true),
    autoStart: forFolder.get<string[]>('autoStart', []),
    reloadOnSave: forFolder.get<boolean>('reloadOnSave', false),
    reloadTimeout: forFolder.get<number>('reloadTimeout', 60),
  };
}

/** Fires when a `serverWorkers.*` setting changes (in any folder). */
export function onDidChangeSettings(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SECTION)) listener();
  });
}
