/**
 * Where a debugged worker gets debugpy: the server's interpreter, else the copy bundled in the Python Debugger
 * extension (ms-python.debugpy), else nowhere (the user is offered to install it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { detectEnvironment } from '../../core/pythonEnvironment';
import { quote } from '../errors';

export const PYTHON_DEBUGGER_EXTENSION_ID = 'ms-python.debugpy';

export interface DebugpySource {
  /** A folder to add to the worker's sys.path (the bundled copy); undefined: the interpreter has debugpy. */
  debugpyPath?: string;
}

export class DebugpyMissingError extends Error {
  constructor(readonly python: string) {
    super(vscode.l10n.t(
      'debugpy is not installed in the Python interpreter {0}, and the Python Debugger extension (which bundles it) is not installed either. Install one of them to debug a worker.',
      python,
    ));
    this.name = 'DebugpyMissingError';
  }
}

/**
 * Finds debugpy for `python` (the environment check the server's start made, looked at again when it says missing: it
 * may have been installed since); throws DebugpyMissingError.
 */
export async function findDebugpy(python: string): Promise<DebugpySource> {
  const cached = await detectEnvironment(python).catch(() => undefined);
  if (cached?.packages.debugpy) return {};
  const fresh = await detectEnvironment(python, { refresh: true }).catch(() => undefined);
  if (fresh?.packages.debugpy) return {};
  const bundled = bundledDebugpy();
  if (bundled) return { debugpyPath: bundled };
  throw new DebugpyMissingError(python);
}

/** The Python Debugger extension's bundled debugpy (`bundled/libs/debugpy`), when that extension is installed. */
function bundledDebugpy(): string | undefined {
  const extension = vscode.extensions.getExtension(PYTHON_DEBUGGER_EXTENSION_ID);
  if (!extension) return undefined;
  const libs = path.join(extension.extensionPath, 'bundled', 'libs');
  return fs.existsSync(path.join(libs, 'debugpy', '__init__.py')) ? libs : undefined;
}

/** The message for a missing debugpy, with actions: pip install into the interpreter, or install the extension. */
export async function showDebugpyMissing(error: DebugpyMissingError): Promise<void> {
  const installDebugpy = vscode.l10n.t('Install debugpy');
  const installExtension = vscode.l10n.t('Install the Python Debugger extension');
  const choice = await vscode.window.showErrorMessage(error.message, installDebugpy, installExtension);
  if (choice === installDebugpy) {
    const terminal = vscode.window.createTerminal({ name: vscode.l10n.t('Install debugpy') });
    terminal.show();
    terminal.sendText(`${quote(error.python)} -m pip install debugpy`);
  } else if (choice === installExtension) {
    await vscode.commands.executeCommand('workbench.extensions.installExtension', PYTHON_DEBUGGER_EXTENSION_ID);
  }
}
