/** Finds the Python web apps of a folder, as serverworkers definitions: FastAPI, Starlette, Flask, Django, gunicorn.conf.py, Procfile. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ServerDefinition } from './definition';

export interface DetectedApp {
  label: string;
  /** Where it was found, relative to the folder, for the task's detail. */
  source: string;
  definition: ServerDefinition;
}

const SKIP_DIRS = new Set(['.git', '.venv', 'venv', 'env', 'node_modules', '__pycache__', '.tox', '.mypy_cache', 'site-packages', 'dist', 'build']);
const MAX_FILES = 300;
const MAX_BYTES = 256 * 1024;
const ASGI_WORKER = 'uvicorn_worker.UvicornWorker';

const FRAMEWORKS: Array<{ pattern: RegExp; asgi: boolean }> = [
  { pattern: /^(\w+)\s*(?::[^=]+)?=\s*(?:fastapi\.)?FastAPI\(/m, asgi: true },
  { pattern: /^(\w+)\s*(?::[^=]+)?=\s*(?:starlette\.applications\.)?Starlette\(/m, asgi: true },
  { pattern: /^(\w+)\s*(?::[^=]+)?=\s*(?:flask\.)?Flask\(/m, asgi: false },
];

export async function detectApps(folder: string): Promise<DetectedApp[]> {
  const found: DetectedApp[] = [];
  const files = await pythonFiles(folder);
  for (const file of files) {
    const text = await readSmall(file);
    if (text === undefined) continue;
    const module = moduleName(folder, file);
    if (!module) continue;
    for (const { pattern, asgi } of FRAMEWORKS) {
      const match = pattern.exec(text);
      if (match) found.push(appTask(`${module}:${match[1]}`, asgi, path.relative(folder, file)));
    }
    const base = path.basename(file);
    if (base === 'wsgi.py' && text.includes('get_wsgi_application')) found.push(appTask(`${module}:application`, false, path.relative(folder, file)));
    if (base === 'asgi.py' && text.includes('get_asgi_application')) found.push(appTask(`${module}:application`, true, path.relative(folder, file)));
  }
  found.push(...(await gunicornConf(folder)), ...(await procfile(folder)));
  const seen = new Set<string>();
  return found.filter((app) => {
    const key = `${app.definition.server}|${app.definition.app}|${app.definition.workerClass ?? ''}|${(app.definition.args ?? []).join(' ')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function appTask(app: string, asgi: boolean, source: string): DetectedApp {
  const definition: ServerDefinition = { server: 'gunicorn', app, workerClass: asgi ? ASGI_WORKER : 'sync' };
  return { label: `gunicorn ${app}`, source, definition };
}

async function gunicornConf(folder: string): Promise<DetectedApp[]> {
  const text = await readSmall(path.join(folder, 'gunicorn.conf.py'));
  if (text === undefined) return [];
  const app = /^wsgi_app\s*=\s*["']([^"']+)["']/m.exec(text)?.[1];
  if (!app) return [];
  const definition: ServerDefinition = { server: 'gunicorn', app, args: ['--config', 'gunicorn.conf.py'] };
  const workers = /^workers\s*=\s*(\d+)\s*$/m.exec(text)?.[1];
  if (workers) definition.workers = Number(workers);
  const workerClass = /^worker_class\s*=\s*["']([^"']+)["']/m.exec(text)?.[1];
  if (workerClass) definition.workerClass = workerClass;
  return [{ label: `gunicorn ${app} (gunicorn.conf.py)`, source: 'gunicorn.conf.py', definition }];
}

/** `web: gunicorn main:app -w 4 -k uvicorn.workers.UvicornWorker` and `web: uvicorn main:app --workers 2`. */
export function parseProcfileLine(line: string): ServerDefinition | undefined {
  const match = /^\s*[\w-]+\s*:\s*(.+)$/.exec(line);
  if (!match) return undefined;
  const tokens = match[1].trim().split(/\s+/);
  while (tokens.length > 0 && /^\w+=/.test(tokens[0])) tokens.shift();
  if (tokens[0] === 'python' && tokens[1] === '-m') tokens.splice(0, 2);
  const server = tokens.shift();
  if (server !== 'gunicorn' && server !== 'uvicorn') return undefined;
  const definition: ServerDefinition = { server, app: '' };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const [flag, inline] = token.startsWith('--') && token.includes('=') ? token.split(/=(.*)/s) : [token, undefined];
    const value = () => inline ?? tokens[++i];
    if (flag === '-w' || flag === '--workers') {
      const workers = Number(value());
      if (Number.isInteger(workers) && workers > 0) definition.workers = workers;
    } else if (flag === '-k' || flag === '--worker-class') {
      definition.workerClass = value();
    } else if (['-b', '--bind', '--host', '--port', '-c', '--config', '--log-level', '--timeout', '-t'].includes(flag)) {
      value(); // bind stays on loopback here; the rest the user can add to the task
    } else if (!flag.startsWith('-') && !definition.app && /^[\w.]+:[\w.()]+$/.test(flag)) {
      definition.app = flag;
    }
  }
  if (!definition.app) return undefined;
  if (server === 'uvicorn') delete definition.workerClass;
  return definition;
}

async function procfile(folder: string): Promise<DetectedApp[]> {
  const text = await readSmall(path.join(folder, 'Procfile'));
  if (text === undefined) return [];
  return text.split('\n').flatMap((line) => {
    const definition = parseProcfileLine(line);
    return definition ? [{ label: `${definition.server} ${definition.app} (Procfile)`, source: 'Procfile', definition }] : [];
  });
}

async function pythonFiles(folder: string): Promise<string[]> {
  const out: string[] = [];
  const queue: Array<{ dir: string; depth: number }> = [{ dir: folder, depth: 0 }];
  while (queue.length > 0 && out.length < MAX_FILES) {
    const { dir, depth } = queue.shift()!;
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory() && depth < 2 && !SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) {
        queue.push({ dir: path.join(dir, entry.name), depth: depth + 1 });
      } else if (entry.isFile() && entry.name.endsWith('.py') && out.length < MAX_FILES) {
        out.push(path.join(dir, entry.name));
      }
    }
  }
  return out;
}

function moduleName(folder: string, file: string): string | undefined {
  const parts = path.relative(folder, file).replace(/\.py$/, '').split(path.sep);
  if (parts[parts.length - 1] === '__init__') parts.pop();
  return parts.length > 0 && parts.every((p) => /^[A-Za-z_]\w*$/.test(p)) ? parts.join('.') : undefined;
}

async function readSmall(file: string): Promise<string | undefined> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile() || stat.size > MAX_BYTES) return undefined;
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}
