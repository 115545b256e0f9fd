/** The extension's settings (`serverWorkers.*`), typed, read per folder; one event when any of them changes. */
import * as vscode from 'vscode';

const SECTION = 'serverWorkers';

export interface Settings {
  /** Interpreter for servers whose task names none ("" when unset). */
  python: string;
  /** Load the in-worker agent (exact per-worker output, debugging). */
  agent: boolean;
  /** Labels of serverworkers tasks to start when the workspace opens. */
  autoStart: string[];
  /** Reload a server's workers when a watched file is saved, unless its task's "reload" says otherwise. */
  reloadOnSave: boolean;
}

export function settings(folder?: vscode.WorkspaceFolder): Settings {
  const config = vscode.workspace.getConfiguration(SECTION, folder);
  return {
    python: config.get<string>('python', '').trim(),
    agent: config.get<boolean>('agent', true),
    autoStart: config.get<string[]>('autoStart', []),
    reloadOnSave: config.get<boolean>('reloadOnSave', false),
  };
}

/** Fires when a `serverWorkers.*` setting changes (in any folder). */
export function onDidChangeSettings(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SECTION)) listener();
  });
}
