/** What a Python interpreter has installed, detected once per interpreter and cached. */
import { execFile } from 'node:child_process';

export interface PythonEnvironment {
  python: string;
  pythonVersion: string;
  packages: {
    gunicorn?: string;
    uvicorn?: string;
    'uvicorn-worker'?: string;
    debugpy?: string;
  };
  /** Gunicorn settings this version knows (its `--no-control-socket` and friends differ by version). */
  gunicornSettings: string[];
}

export class PythonNotFoundError extends Error {
  constructor(readonly python: string, detail: string) {
    super(`The Python interpreter "${python}" could not be run (${detail}). Set "python" in the task or the setting serverWorkers.python to an existing interpreter, for example .venv/bin/python.`);
    this.name = 'PythonNotFoundError';
  }
}

const PROBE = `
import json, sys
from importlib import metadata
out = {"pythonVersion": sys.version.split()[0], "packages": {}, "gunicornSettings": []}
for name in ("gunicorn", "uvicorn", "uvicorn-worker", "debugpy"):
    try:
        out["packages"][name] = metadata.version(name)
    except Exception:
        pass
if "gunicorn" in out["packages"]:
    try:
        from gunicorn.config import KNOWN_SETTINGS
        out["gunicornSettings"] = [s.name for s in KNOWN_SETTINGS]
    except Exception:
        pass
print("SERVER_WORKERS_PROBE " + json.dumps(out))
`;

const cache = new Map<string, Promise<PythonEnvironment>>();

export function detectEnvironment(python: string, options: { refresh?: boolean } = {}): Promise<PythonEnvironment> {
  if (options.refresh) cache.delete(python);
  let pending = cache.get(python);
  if (!pending) {
    pending = probe(python);
    cache.set(python, pending);
    pending.catch(() => cache.delete(python));
  }
  return pending;
}

function probe(python: string): Promise<PythonEnvironment> {
  return new Promise((resolve, reject) => {
    // -I would also skip site-packages: -E -s keep the probe off the user's PYTHONPATH and user site only.
    execFile(python, ['-E', '-c', PROBE], { timeout: 20000, env: { ...process.env, PYTHONPATH: '' } }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('SERVER_WORKERS_PROBE '));
      if (error && !line) {
        const code = (error as NodeJS.ErrnoException).code;
        const detail = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not executable' : (stderr.trim().split('\n').pop() ?? error.message) || error.message;
        reject(new PythonNotFoundError(python, `${detail}`.slice(0, 300)));
        return;
      }
      if (!line) {
        reject(new PythonNotFoundError(python, 'it does not look like Python: it printed no version'));
        return;
      }
      const data = JSON.parse(line.slice('SERVER_WORKERS_PROBE '.length)) as Omit<PythonEnvironment, 'python'>;
      resolve({ python, ...data });
    });
  });
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => parseInt(p, 10) || 0);
  const pb = b.split(/[.+-]/).map((p) => parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
