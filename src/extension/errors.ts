/** User-facing errors with the action that fixes them, where one exists: decided by the error's fields, never its wording. */
import * as vscode from 'vscode';
import { ServerError } from '../core/errors';

export interface ErrorActions {
  /** Offer to open tasks.json (the task itself is wrong). */
  openTasks?: boolean;
}

/** Shows `text`; a ServerError for a missing package adds "Install <package>" (pip, in that interpreter, in a terminal). */
export async function showServerError(text: string, error?: unknown, actions: ErrorActions = {}): Promise<void> {
  const details = error instanceof ServerError ? error.details : {};
  const missing = details.missingPackage !== undefined && details.python !== undefined ? { pkg: details.missingPackage, python: details.python } : undefined;
  const install = missing ? vscode.l10n.t('Install {0}', missing.pkg) : undefined;
  const openTasks = actions.openTasks ? vscode.l10n.t('Open tasks.json') : undefined;
  const choice = await vscode.window.showErrorMessage(text, ...[install, openTasks].filter((a): a is string => a !== undefined));
  if (choice !== undefined && choice === install && missing) {
    const terminal = vscode.window.createTerminal({ name: install });
    terminal.show();
    terminal.sendText(`${quote(missing.python)} -m pip install ${missing.pkg}`);
  } else if (choice !== undefined && choice === openTasks) {
    await vscode.commands.executeCommand('workbench.action.tasks.openWorkspaceFileTasks');
  }
}

/** Quoting for the one command we type into a terminal for the user to see and run. */
export function quote(arg: string): string {
  return /^[\w./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Why nothing starts in an untrusted workspace (Workspace Trust). */
export function untrustedWorkspaceMessage(serverName?: string): string {
  return serverName === undefined
    ? vscode.l10n.t('This workspace is not trusted, so Server Workers does not start servers from its configuration. Trust it (Manage Workspace Trust) to start one.')
    : vscode.l10n.t('This workspace is not trusted, so Server Workers does not start servers from its configuration. Trust it (Manage Workspace Trust) to start "{0}".', serverName);
}
