/**
 * Where a debugged worker gets debugpy: the server's interpreter, else the copy bundled in the Python Debugger
 * extension (ms-python.debugpy), else nowhere (the user is offered to install it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

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

const found = new Map<string, number>();
const CACHE_MS = 5 * 60 * 1000;

/** Finds debugpy for `python`; throws DebugpyMissingError. Positive answers are cached for a few minutes. */
export async function findDebugpy(python: string): Promise<DebugpySource> {
  const at = found.get(python);
  if (at !== undefined && Date.now() - at < CACHE_MS) return {};
  if (await interpreterHasDebugpy(python)) {
    found.set(python, Date.now());
    return {};
  }
  const bundled = bundledDebugpy();
  if (bundled) return { debugpyPath: bundled };
  throw new DebugpyMissingError(python);
}

function interpreterHasDebugpy(python: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(python, ['-c', 'import importlib.util, sys; sys.exit(0 if importlib.util.find_spec("debugpy") else 3)'], { timeout: 20000 }, (error) => resolve(!error));
  });
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

/** Quoting for the one command we type into a terminal for the user to see and run. */
function quote(arg: string): string {
  return /^[\w./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
