/**
 * Which Python interpreter runs a server: the task's `python`, else the setting serverWorkers.python, else the
 * interpreter selected in the Python extension (when it is installed), else the folder's virtualenv, else python3.
 */
import * as path from 'node:path';
import type { PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';
import { settings } from './config';
import { venvInterpreter } from '../core/launchContext';

const PYTHON_EXTENSION_ID = 'ms-python.python';

export class PythonInterpreters implements vscode.Disposable {
  private api: Promise<PythonExtension | undefined> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  /** The Python extension's selection changed: the next start uses the new interpreter. */
  readonly onDidChange = this.changeEmitter.event;

  async resolve(folder: vscode.WorkspaceFolder | undefined, explicit: string | undefined): Promise<string> {
    const base = folder?.uri.fsPath;
    if (explicit) return absolute(explicit, base);
    const setting = settings(folder).python;
    if (setting) return absolute(setting, base);
    const selected = await this.selectedInPythonExtension(folder);
    if (selected) return selected;
    return (base ? venvInterpreter(base) : undefined) ?? 'python3';
  }

  private async selectedInPythonExtension(folder: vscode.WorkspaceFolder | undefined): Promise<string | undefined> {
    const api = await this.pythonApi();
    if (!api) return undefined;
    try {
      const active = api.environments.getActiveEnvironmentPath(folder?.uri);
      const resolved = await api.environments.resolveEnvironment(active);
      return resolved?.executable.uri?.fsPath ?? (active.path.endsWith('python') || active.path.includes('python3') ? active.path : undefined);
    } catch {
      return undefined;
    }
  }

  private pythonApi(): Promise<PythonExtension | undefined> {
    if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) return Promise.resolve(undefined);
    this.api ??= (async () => {
      try {
        const { PythonExtension } = await import('@vscode/python-extension');
        const api = await PythonExtension.api();
        this.disposables.push(api.environments.onDidChangeActiveEnvironmentPath(() => this.changeEmitter.fire()));
        return api;
      } catch {
        return undefined;
      }
    })();
    return this.api;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.changeEmitter.dispose();
  }
}

function absolute(p: string, base: string | undefined): string {
  const expanded = p.replace(/^~(?=\/|$)/, process.env.HOME ?? '~');
  // A bare command name ("python3") is looked up on PATH; a relative path is the folder's.
  if (!expanded.includes('/') || path.isAbsolute(expanded) || !base) return expanded;
  return path.join(base, expanded);
}
