/**
 * Which Python interpreter runs a server: the task's `python`, else the setting serverWorkers.python, else the
 * interpreter selected for the folder in the Python Environments extension or the Python extension (when one is
 * installed: selectedInterpreter.ts), else the folder's virtualenv (.venv, venv, env), else python3.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { settings } from './config';
import { SelectedInterpreter } from './selectedInterpreter';

export class PythonInterpreters implements vscode.Disposable {
  private readonly selected = new SelectedInterpreter();
  /** The interpreter selected in the Python extensions changed: the next start of a server uses the new one. */
  readonly onDidChange = this.selected.onDidChange;

  async resolve(folder: vscode.WorkspaceFolder | undefined, explicit: string | undefined): Promise<string> {
    const base = folder?.uri.fsPath;
    if (explicit) return absolute(explicit, base);
    const setting = settings(folder).python;
    if (setting) return absolute(setting, base);
    const selected = await this.selected.interpreterFor(folder);
    if (selected) return selected;
    const { venvInterpreter } = await import('../core/launchContext');
    return (base ? venvInterpreter(base) : undefined) ?? 'python3';
  }

  dispose(): void {
    this.selected.dispose();
  }
}

function absolute(p: string, base: string | undefined): string {
  const expanded = p.replace(/^~(?=\/|$)/, process.env.HOME ?? '~');
  // A bare command name ("python3") is looked up on PATH; a relative path is the folder's.
  if (!expanded.includes('/') || path.isAbsolute(expanded) || !base) return expanded;
  return path.join(base, expanded);
}
