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
}

export function settings(folder?: vscode.WorkspaceFolder): Settings {
  const forFolder = vscode.workspace.getConfiguration(SECTION, folder);
  return {
    python: forFolder.get<string>('python', '').trim(),
    // A window setting (package.json gives it no resource scope): read without the folder.
    agent: vscode.workspace.getConfiguration(SECTION).get<boolean>('agent', true),
    autoStart: forFolder.get<string[]>('autoStart', []),
  };
}

/** Fires when a `serverWorkers.*` setting changes (in any folder). */
export function onDidChangeSettings(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SECTION)) listener();
  });
}
