/**
 * The `gunicorn` format: the server's own configuration. Gunicorn: a gunicorn.conf.py, each setting with the task
 * property it came from. Hypercorn: a hypercorn.toml. Uvicorn and Granian take no config file: a serve.sh with
 * their command line (and the task's env and preLaunch steps before it).
 */
import * as path from 'node:path';
import { envCaveats, type EnvEntry, envEntries, headerLines, outsidePaths, placeOf } from './analysis';
import { commentLines, optionLines, pyString, shellCommand, shellWord } from './quoting';
import { serverArgv, workerClassOf } from './serverCommand';
import type { Caveat, ExportFile, ExportInput, ExportResult } from './types';

/** A path as the server sees it from its working directory: relative inside the project, else as it is. */
function fromCwd(input: ExportInput, file: string): string {
  const place = placeOf(file, input.project.folder);
  if (!place.inside) return file;
  const relative = path.relative(input.definition.cwd, file);
  return relative === '' ? '.' : relative.split(path.sep).join('/');
}

/** The interpreter as the start line names it, from the task's working directory. */
function interpreter(input: ExportInput): string {
  const python = input.definition.python;
  return python.includes('/') ? fromCwd(input, python) : python;
}

/** A preLaunch step with "python" as the task's interpreter. */
function step(input: ExportInput, argv: readonly string[]): string[] {
  return argv[0] === 'python' ? [interpreter(input), ...argv.slice(1)] : [...argv];
}

function commonCaveats(input: ExportInput, entries: EnvEntry[]): Caveat[] {
  const supply = (key: string) => `set ${key} in the environment the server starts in`;
  return [
    ...envCaveats(entries, supply),
    ...outsidePaths(input, ['certfile', 'keyfile', 'python', 'args', 'env']).map(({ property, file }) => ({
      property, message: `${file} is outside the project: kept as it is, so it must exist there on the machine that runs the server.`,
    })),
  ];
}

export function exportServerConfig(input: ExportInput): ExportResult {
  switch (input.definition.server) {
    case 'gunicorn':
      return gunicornConf(input);
    case 'hypercorn':
      return hypercornToml(input);
    default:
      return serveScript(input);
  }
}

function gunicornConf(input: ExportInput): ExportResult {
  const def = input.definition;
  const entries = envEntries(input);
  const caveats = commonCaveats(input, entries);
  if (def.maxMemoryMb !== undefined) {
    caveats.push({ property: 'maxMemoryMb', message: `Gunicorn has no per-worker memory limit (Server Workers recycles a worker past ${def.maxMemoryMb} MiB itself): the systemd unit's MemoryMax= or a container's memory limit caps the whole server instead.` });
  }
  const conf = path.join(input.options.outDir, 'gunicorn.conf.py');
  const start = ['cd', def.cwd, '&&', interpreter(input), '-m', 'gunicorn', '-c', fromCwdAnywhere(input, conf), ...def.args];
  const startLine = `${shellCommand(start.slice(0, 2))} && ${shellCommand(start.slice(3))}`;
  const settings: string[] = [
    `wsgi_app = ${pyString(def.app)}  # app`,
    `workers = ${def.workers}  # workers`,
    `worker_class = ${pyString(workerClassOf(input))}  # workerClass${def.workerClass ? '' : ' (not set: Server Workers\' default)'}`,
    `bind = [${pyString(def.host.includes(':') ? `[${def.host}]:${def.port}` : `${def.host}:${def.port}`)}]  # bind`,
  ];
  if (def.timeout !== undefined) settings.push(`timeout = ${def.timeout}  # timeout`);
  settings.push(`graceful_timeout = ${def.gracefulTimeout}  # gracefulTimeout${def.gracefulTimeout === 10 ? ' (Server Workers\' default)' : ''}`);
  if (def.certfile && def.keyfile) {
    settings.push(`certfile = ${pyString(fromCwd(input, def.certfile))}  # certfile`, `keyfile = ${pyString(fromCwd(input, def.keyfile))}  # keyfile`);
  }
  if (def.args.includes('--preload')) settings.push('preload_app = True  # args: --preload (also on the start line)');
  const plain = entries.filter((e): e is Extract<EnvEntry, { kind: 'plain' }> => e.kind === 'plain');
  if (plain.length > 0) settings.push(`raw_env = [${plain.map((e) => pyString(`${e.key}=${e.value}`)).join(', ')}]  # env`);
  settings.push('accesslog = "-"  # each request on stderr (in development, Server Workers\' request insight counts them)');

  const header = headerLines(input, 'Gunicorn\'s configuration', caveats, [
    '',
    `Start it from the task's folder: ${startLine}`,
    ...(def.preLaunch.length > 0 ? ['Run first (preLaunch), in that folder:', ...def.preLaunch.map((s) => `  ${shellCommand(step(input, s))}`)] : []),
    'Each setting names the task property it came from.',
  ]);
  const text = [...commentLines(header), '', ...chdirLines(input), ...settings, ''].join('\n');
  return {
    format: 'gunicorn',
    files: [{ name: 'gunicorn.conf.py', text }],
    caveats,
    next: [...def.preLaunch.map((s) => `Run first: ${shellCommand(step(input, s))}`), `Start: ${startLine}`],
  };
}

/** gunicorn.conf.py's chdir when the task's folder is not where the file is (relative to the file, so the tree can move). */
function chdirLines(input: ExportInput): string[] {
  const relative = path.relative(input.options.outDir, input.definition.cwd);
  if (relative === '') return [];
  return [
    'import os',
    '',
    `chdir = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ${pyString(relative.split(path.sep).join('/'))}))  # cwd`,
  ];
}

/** The exported file as the start line names it from the task's folder: relative when both are in the project. */
function fromCwdAnywhere(input: ExportInput, file: string): string {
  return placeOf(input.options.outDir, input.project.folder).inside ? fromCwd(input, file) : file;
}

function hypercornToml(input: ExportInput): ExportResult {
  const def = input.definition;
  const entries = envEntries(input);
  const caveats = commonCaveats(input, entries);
  const toml = path.join(input.options.outDir, 'hypercorn.toml');
  const plain = entries.filter((e): e is Extract<EnvEntry, { kind: 'plain' }> => e.kind === 'plain');
  const envPrefix = plain.length > 0 ? ['env', ...plain.map((e) => `${e.key}=${e.value}`)] : [];
  const startLine = `${shellCommand(['cd', def.cwd])} && ${shellCommand([...envPrefix, interpreter(input), '-m', 'hypercorn', '--config', fromCwdAnywhere(input, toml), def.app, ...def.args])}`;
  const settings = [
    `bind = [${pyString(def.host.includes(':') ? `[${def.host}]:${def.port}` : `${def.host}:${def.port}`)}]  # bind`,
    `workers = ${def.workers}  # workers`,
    `graceful_timeout = ${def.gracefulTimeout}  # gracefulTimeout`,
    'accesslog = "-"  # each request on stdout',
  ];
  if (def.certfile && def.keyfile) settings.push(`certfile = ${pyString(fromCwd(input, def.certfile))}  # certfile`, `keyfile = ${pyString(fromCwd(input, def.keyfile))}  # keyfile`);
  const header = headerLines(input, 'Hypercorn\'s configuration', caveats, [
    '',
    `Start it from the task's folder (app, env and args are on the command line): ${startLine}`,
    ...(def.preLaunch.length > 0 ? ['Run first (preLaunch), in that folder:', ...def.preLaunch.map((s) => `  ${shellCommand(step(input, s))}`)] : []),
  ]);
  return {
    format: 'gunicorn',
    files: [{ name: 'hypercorn.toml', text: [...commentLines(header), '', ...settings, ''].join('\n') }],
    caveats,
    next: [...def.preLaunch.map((s) => `Run first: ${shellCommand(step(input, s))}`), `Start: ${startLine}`],
  };
}

function serveScript(input: ExportInput): ExportResult {
  const def = input.definition;
  const entries = envEntries(input);
  const caveats = commonCaveats(input, entries);
  const kind = def.server === 'uvicorn' ? 'Uvicorn' : 'Granian';
  if (def.server === 'uvicorn' && def.maxMemoryMb !== undefined) {
    caveats.push({ property: 'maxMemoryMb', message: 'Uvicorn has no per-worker memory limit (Server Workers recycles a worker past it itself): the systemd unit\'s MemoryMax= or a container\'s memory limit caps the whole server instead.' });
  }
  if (def.timeout !== undefined) caveats.push({ property: 'timeout', message: `${kind} has no worker timeout (it is Gunicorn's setting): not carried over.` });
  const listen = { host: def.host, port: def.port, tls: def.certfile && def.keyfile ? { certfile: fromCwd(input, def.certfile), keyfile: fromCwd(input, def.keyfile) } : undefined };
  const argv = serverArgv(input, def.workers, listen);
  // Relative to the script when both are in the project (the tree can move), else the folder as it is.
  const cwdFromScript = placeOf(input.options.outDir, input.project.folder).inside ? path.relative(input.options.outDir, def.cwd).split(path.sep).join('/') : def.cwd;
  const lines = [
    '#!/bin/sh',
    ...commentLines(headerLines(input, `${kind}'s command line`, caveats, ['Each option is the task property of the same name; run it as it is: sh serve.sh'])),
    'set -eu',
    cwdFromScript === '' ? 'cd "$(dirname "$0")"' : path.isAbsolute(cwdFromScript) ? `cd ${shellWord(cwdFromScript)}  # cwd` : `cd "$(dirname "$0")"/${shellWord(cwdFromScript)}  # cwd`,
  ];
  for (const entry of entries) {
    if (entry.kind === 'plain') lines.push(`export ${entry.key}=${shellWord(entry.value)}  # env`);
    else lines.push(`: "\${${entry.key}:?set ${entry.key} in the environment (see the top of this file)}"  # env`);
  }
  for (const [i, s] of def.preLaunch.entries()) lines.push(`${shellCommand(step(input, s))}  # preLaunch[${i}]`);
  const options = optionLines(argv, shellWord);
  lines.push(`exec ${shellWord(interpreter(input))} ${options.map((o) => o.join(' ')).join(' \\\n  ')}`, '');
  const script: ExportFile = { name: 'serve.sh', text: lines.join('\n'), executable: true };
  return { format: 'gunicorn', files: [script], caveats, next: [`Start: sh ${path.join(input.options.outDir, 'serve.sh')}`] };
}
