/** Which Python interpreter runs a server: the task's, else the setting, else the folder's virtualenv, else python3. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const VENV_FOLDERS = ['.venv', 'venv', 'env'];

export function resolvePython(folder: vscode.WorkspaceFolder | undefined, explicit: string | undefined): string {
  const base = folder?.uri.fsPath;
  if (explicit) return absolute(explicit, base);
  const setting = vscode.workspace.getConfiguration('serverWorkers', folder).get<string>('python', '').trim();
  if (setting) return absolute(setting, base);
  if (base) {
    for (const venv of VENV_FOLDERS) {
      const candidate = path.join(base, venv, 'bin', 'python');
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return 'python3';
}

function absolute(p: string, base: string | undefined): string {
  const expanded = p.replace(/^~(?=\/|$)/, process.env.HOME ?? '~');
  // A bare command name ("python3") is looked up on PATH; a relative path is the folder's.
  if (!expanded.includes('/') || path.isAbsolute(expanded) || !base) return expanded;
  return path.join(base, expanded);
}
