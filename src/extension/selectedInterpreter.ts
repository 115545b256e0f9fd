/**
 * The interpreter another extension has selected for a folder, and when that selection changes: the Python
 * Environments extension (ms-python.vscode-python-envs, the environment of the folder) when it is installed, else the
 * Python extension (ms-python.python, its active environment path). Their APIs are read through the extensions'
 * exports, typed here by the surface used (the one in @vscode/python-environments and @vscode/python-extension).
 */
import type { PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';

export const PYTHON_ENVIRONMENTS_EXTENSION_ID = 'ms-python.vscode-python-envs';
export const PYTHON_EXTENSION_ID = 'ms-python.python';

/** What this extension uses of the Python Environments extension's API (@vscode/python-environments 1.0). */
interface PythonEnvironmentsApi {
  getEnvironment(scope: vscode.Uri | undefined): Promise<{ execInfo?: { run?: { executable?: string; args?: string[] } }; environmentPath?: vscode.Uri } | undefined>;
  onDidChangeEnvironment: vscode.Event<{ uri: vscode.Uri | undefined }>;
}

export interface InterpreterSelection {
  /** The selected interpreter's executable for the folder, when one is selected and it is a plain executable. */
  interpreterFor(folder: vscode.WorkspaceFolder | undefined): Promise<string | undefined>;
  /** The selection changed (for the folder of this uri, or for all when undefined). */
  readonly onDidChange: vscode.Event<vscode.Uri | undefined>;
}

export class SelectedInterpreter implements InterpreterSelection, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri | undefined>();
  readonly onDidChange = this.changeEmitter.event;
  private readonly disposables: vscode.Disposable[] = [this.changeEmitter];
  private environments: Promise<PythonEnvironmentsApi | undefined> | undefined;
  private python: Promise<PythonExtension | undefined> | undefined;

  async interpreterFor(folder: vscode.WorkspaceFolder | undefined): Promise<string | undefined> {
    const environments = await this.environmentsApi();
    if (environments) return fromEnvironments(environments, folder);
    const python = await this.pythonApi();
    return python ? fromPythonExtension(python, folder) : undefined;
  }

  dispose(): void {
    for (const disposable of this.disposables.splice(0)) disposable.dispose();
  }

  private environmentsApi(): Promise<PythonEnvironmentsApi | undefined> {
    this.environments ??= exportsOf<PythonEnvironmentsApi>(PYTHON_ENVIRONMENTS_EXTENSION_ID).then((api) => {
      if (api) this.disposables.push(api.onDidChangeEnvironment((event) => this.changeEmitter.fire(event.uri)));
      return api;
    });
    return this.environments;
  }

  private pythonApi(): Promise<PythonExtension | undefined> {
    this.python ??= exportsOf<PythonExtension>(PYTHON_EXTENSION_ID).then((api) => {
      if (api) this.disposables.push(api.environments.onDidChangeActiveEnvironmentPath((event) => this.changeEmitter.fire(event.resource?.uri)));
      return api;
    });
    return this.python;
  }
}

/** An installed extension's API (activated if it is not yet), or undefined when it is not installed or fails. */
async function exportsOf<T>(id: string): Promise<T | undefined> {
  const extension = vscode.extensions.getExtension<T>(id);
  if (!extension) return undefined;
  try {
    return extension.isActive ? extension.exports : await extension.activate();
  } catch {
    return undefined;
  }
}

async function fromEnvironments(api: PythonEnvironmentsApi, folder: vscode.WorkspaceFolder | undefined): Promise<string | undefined> {
  try {
    const environment = await api.getEnvironment(folder?.uri);
    const run = environment?.execInfo?.run;
    // A run that needs arguments (`conda run -n env python`) is no interpreter path a server can be started with.
    if (run?.executable && (run.args ?? []).length === 0) return run.executable;
    return undefined;
  } catch {
    return undefined;
  }
}

async function fromPythonExtension(api: PythonExtension, folder: vscode.WorkspaceFolder | undefined): Promise<string | undefined> {
  try {
    const active = api.environments.getActiveEnvironmentPath(folder?.uri);
    const resolved = await api.environments.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? (active.path.endsWith('python') || active.path.includes('python3') ? active.path : undefined);
  } catch {
    return undefined;
  }
}
