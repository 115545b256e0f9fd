/** What a Python interpreter has installed, detected once per interpreter and cached. */
import { type ChildProcess, spawn } from 'node:child_process';

export interface PythonEnvironment {
  python: string;
  pythonVersion: string;
  packages: {
    gunicorn?: string;
    uvicorn?: string;
    'uvicorn-worker'?: string;
    granian?: string;
    hypercorn?: string;
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

/** How long the probe may take; a slower interpreter (and whatever it started) is killed. */
export const PROBE_TIMEOUT_MS = 20000;
/** Output of the probe past this is not read (a real answer is a few KiB). */
const PROBE_OUTPUT_LIMIT = 1024 * 1024;

const PROBE = `
import json, sys
from importlib import metadata
out = {"pythonVersion": sys.version.split()[0], "packages": {}, "gunicornSettings": []}
for name in ("gunicorn", "uvicorn", "uvicorn-worker", "granian", "hypercorn", "debugpy"):
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

export function detectEnvironment(python: string, options: { refresh?: boolean; timeoutMs?: number } = {}): Promise<PythonEnvironment> {
  if (options.refresh) cache.delete(python);
  let pending = cache.get(python);
  if (!pending) {
    pending = probe(python, options.timeoutMs);
    cache.set(python, pending);
    pending.catch(() => cache.delete(python));
  }
  return pending;
}

function probe(python: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<PythonEnvironment> {
  return new Promise((resolve, reject) => {
    // -I would also skip site-packages: -E keeps the probe off the user's PYTHONPATH.
    // Its own process group: a timeout ends whatever the "interpreter" started too (a wrapper script's children).
    let child: ChildProcess;
    try {
      child = spawn(python, ['-E', '-c', PROBE], { env: { ...process.env, PYTHONPATH: '' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      reject(new PythonNotFoundError(python, (error as Error).message.slice(0, 200)));
      return;
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    collect(child.stdout, stdout);
    collect(child.stderr, stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const detail = error.code === 'ENOENT' ? 'no such file' : error.code === 'EACCES' ? 'not executable' : error.message;
      reject(new PythonNotFoundError(python, detail.slice(0, 200)));
    });
    // What the interpreter left running in its group goes with it (and lets its pipes close).
    child.once('exit', () => killGroup(child.pid));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout).toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith(PROBE_MARKER));
      const answer = line === undefined ? undefined : parseProbeAnswer(line.slice(PROBE_MARKER.length));
      if (answer) {
        resolve({ python, ...answer });
        return;
      }
      const lastError = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop()?.trim().slice(0, 200);
      const detail = timedOut ? `it did not answer within ${timeoutMs / 1000} s and was stopped`
        : line !== undefined ? 'it does not look like Python: its answer to the version check is not what Python prints'
        : code !== 0 ? `it ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${lastError ? `: ${lastError}` : ''}`
        : 'it does not look like Python: it printed no version';
      reject(new PythonNotFoundError(python, detail));
    });
  });
}

const PROBE_MARKER = 'SERVER_WORKERS_PROBE ';

/** The probe's JSON, checked field by field: anything else is not an answer. */
export function parseProbeAnswer(text: string): Omit<PythonEnvironment, 'python'> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { pythonVersion, packages, gunicornSettings } = raw as Record<string, unknown>;
  if (typeof pythonVersion !== 'string' || !/^\d+\.\d+/.test(pythonVersion)) return undefined;
  if (typeof packages !== 'object' || packages === null || Array.isArray(packages)) return undefined;
  if (!Object.values(packages).every((v) => typeof v === 'string')) return undefined;
  if (!Array.isArray(gunicornSettings) || !gunicornSettings.every((s) => typeof s === 'string')) return undefined;
  return { pythonVersion, packages: packages, gunicornSettings: gunicornSettings };
}

function collect(stream: NodeJS.ReadableStream | null, into: Buffer[]): void {
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size >= PROBE_OUTPUT_LIMIT) return;
    size += chunk.length;
    into.push(chunk);
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone
  }
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
