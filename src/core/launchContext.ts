/** What a server's definition falls back on, the same for the CLI and the extension. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultWorkerCount, type ResolveContext } from './definition';

/** Virtualenv folders looked for in a workspace folder, in this order. */
export const VENV_FOLDERS = ['.venv', 'venv', 'env'];

/** The folder's virtualenv interpreter, if it has one. */
export function venvInterpreter(folder: string): string | undefined {
  return VENV_FOLDERS.map((venv) => path.join(folder, venv, 'bin', 'python')).find((candidate) => fs.existsSync(candidate));
}

/** Defaults for a server of `folder`: its virtualenv's interpreter (else `fallbackPython`), the folder, (2 x CPUs) + 1 workers. */
export function launchContext(folder: string, fallbackPython = 'python3'): ResolveContext {
  return {
    defaultPython: venvInterpreter(folder) ?? fallbackPython,
    defaultCwd: folder,
    defaultWorkers: defaultWorkerCount(os.cpus().length),
  };
}

/** python/ of the package (sitecustomize.py and the agent): beside dist/ when bundled, higher up when compiled to out/. */
export function agentDirectory(from = __dirname): string {
  const candidates = [path.join(from, '..', 'python'), path.join(from, '..', '..', 'python'), path.join(from, '..', '..', '..', 'python')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'sitecustomize.py'))) ?? candidates[0];
}
