/** User-facing errors with the action that fixes them, where one exists. */
import * as vscode from 'vscode';

export interface ErrorContext {
  /** The interpreter, for an "Install" action when a package is missing. */
  python?: string;
  message?: string;
  openTasks?: boolean;
}

export async function showServerError(text: string, context: ErrorContext = {}): Promise<void> {
  const actions: string[] = [];
  const missing = context.message ? /^(\S+) is not installed in the Python interpreter/.exec(context.message) : null;
  const install = vscode.l10n.t('Install {0}', missing?.[1] ?? '');
  if (missing && context.python) actions.push(install);
  const openTasks = vscode.l10n.t('Open tasks.json');
  if (context.openTasks) actions.push(openTasks);
  const choice = await vscode.window.showErrorMessage(text, ...actions);
  if (choice === install && missing && context.python) {
    const terminal = vscode.window.createTerminal({ name: vscode.l10n.t('Install {0}', missing[1]) });
    terminal.show();
    terminal.sendText(`${quote(context.python)} -m pip install ${missing[1]}`);
  } else if (choice === openTasks) {
    await vscode.commands.executeCommand('workbench.action.tasks.openWorkspaceFileTasks');
  }
}

/** Quoting for the one command we type into a terminal for the user to see and run. */
function quote(arg: string): string {
  return /^[\w./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
