/** `server-workers`: the core in a terminal, for people (prefixed, coloured lines) and scripts (--json). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { bindsAllInterfaces, DefinitionError, resolveDefinition, type ResolvedDefinition, type ServerDefinition } from './core/definition';
import { reportReloads, watchForReload } from './cliReload';
import { agentDirectory, launchContext } from './core/launchContext';
import type { ServerModel, WorkerInsight, WorkerModel } from './core/model';
import { separateLines } from './core/output/separateLines';
import { type OutputEvent, ServerError, Supervisor } from './core/supervisor';
import { readServerTasks } from './core/tasksFile';
import { expandTaskVariables } from './core/taskVariables';
import { CliPdb, PeopleStdout } from './cliPdb';
import { sumInsights } from './core/workers/insight';

const USAGE = `Usage: server-workers run [options] [-- extra server args]

Runs a multi-worker Python web server (gunicorn, uvicorn, granian or hypercorn) and separates each worker's output.
breakpoint() in a worker opens pdb here: lines you type go to it (":slot N" picks among workers in pdb).

Options (named like the serverworkers task properties):
  --server gunicorn|uvicorn|granian|hypercorn
                              process manager (default gunicorn)
  --app MODULE:ATTR           the application, e.g. main:app
  --workers N                 worker processes (default (2 x CPUs) + 1)
  --bind HOST:PORT            default 127.0.0.1:8000
  --worker-class CLASS        gunicorn worker class (default UvicornWorker)
  --interface asgi|rsgi|wsgi  how granian calls the app (default asgi)
  --cwd DIR                   working directory (default .)
  --python PATH               interpreter (default the folder's .venv, venv or env, else python3)
  --env KEY=VALUE             extra environment variable (repeatable)
  --timeout S                 gunicorn worker timeout
  --graceful-timeout S        seconds a stop waits before killing (default 10)
  --task NAME                 run the serverworkers task NAME from .vscode/tasks.json, as VS Code
                              would: its variables expanded (\${workspaceFolder}, \${env:NAME}...);
                              the options above override its values (--env adds, extra args follow)
  --tasks-file PATH           the tasks.json to read (default ./.vscode/tasks.json)
  --folder DIR                the workspace folder of the task (default: the folder of .vscode/)
  --reload                    reload every worker when a watched file changes (default: **/*.py under
                              --cwd, not virtualenvs, __pycache__, .git, node_modules; a task's "reload"
                              object sets the globs): the new workers serve only once they are ready,
                              and new code that does not boot leaves the previous workers serving
  --no-agent                  attribute lines by the pids in log formats instead of the in-worker agent
  --no-insight                do not count each worker's requests (request insight; as "insight": false)
  --json                      JSON lines on stdout (a "stats" event each second: per-worker CPU, memory
                              and requests); commands as JSON lines on stdin:
                              {"cmd":"scale","workers":N} {"cmd":"kill","slot":N} {"cmd":"reload"}
                              {"cmd":"restart"} {"cmd":"stop"}; {"cmd":"stacks","slot":N} writes
                              that worker's stacks as its log lines; {"cmd":"input","slot":N,"text":"p x\n"}
                              (a line for that worker's pdb); EOF on stdin stops the server;
                              reload events: reload-started, reloaded, reload-failed (file, line)
  -h, --help                  this text

Exit codes: 0 stopped as asked, 1 the server failed, 2 invalid options.`;

const COLORS = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96];

interface CliOptions {
  json: boolean;
  color: boolean;
}

/** What people read: lines written whole, and pdb's prompt without its newline. */
const stdout = new PeopleStdout();

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'run') {
    process.stderr.write(`server-workers: unknown command "${command}". Did you mean "server-workers run"?\n\n${USAGE}\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        server: { type: 'string' },
        app: { type: 'string' },
        workers: { type: 'string' },
        bind: { type: 'string' },
        'worker-class': { type: 'string' },
        interface: { type: 'string' },
        cwd: { type: 'string' },
        python: { type: 'string' },
        env: { type: 'string', multiple: true },
        timeout: { type: 'string' },
        'graceful-timeout': { type: 'string' },
        task: { type: 'string' },
        'tasks-file': { type: 'string' },
        folder: { type: 'string' },
        'no-agent': { type: 'boolean' },
        'no-insight': { type: 'boolean' },
        reload: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`server-workers: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options: CliOptions = { json: values.json ?? false, color: !values.json && process.stdout.isTTY === true };
  const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

  let resolved;
  try {
    resolved = values.task ? taskDefinition(values.task, values, positionals) : flagDefinition(values, positionals);
  } catch (error) {
    if (error instanceof DefinitionError || error instanceof CliUsageError) return usageError(error.message, options, emit);
    throw error;
  }
  if (bindsAllInterfaces(resolved.host)) {
    const warning = `${resolved.name} listens on all interfaces (${resolved.host}:${resolved.port}): other machines on your network can reach it. Bind 127.0.0.1 unless you mean to expose it.`;
    if (options.json) emit({ event: 'warning', message: warning });
    else process.stderr.write(`server-workers: ${warning}\n`);
  }

  const supervisor = new Supervisor(resolved, { agentDir: values['no-agent'] ? undefined : agentDirectory() });
  if (values.reload) supervisor.setReloadOnSave(true);
  attachOutput(supervisor, options, emit);
  const pdb = new CliPdb(supervisor, {
    json: options.json,
    emit,
    slotLine: (slot, text, partial) => stdout.write(`${prefix(options, slot)}${text}${partial ? '' : '\n'}`, partial),
    info: (text) => info(options, text),
  });
  reportReloads(supervisor, options.json, emit);

  let stopRequested = false;
  const stop = () => {
    stopRequested = true;
    void supervisor.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (options.json) listenForCommands(supervisor, pdb, emit, stop);
  else {
    // Read stdin only once a worker is in pdb: a CLI run in a shell's background must not stop for reading the tty.
    const off = supervisor.onPdb.on(() => {
      off();
      listenForTypedLines(pdb);
    });
  }

  const finished = new Promise<number>((resolve) => {
    supervisor.onDidChange.on((model) => {
      if (model.state === 'stopped') resolve(0);
      if (model.state === 'failed') resolve(1);
    });
  });

  if (options.json) emit({ event: 'starting', name: resolved.name, server: resolved.server, app: resolved.app, workers: resolved.workers, url: `http://${resolved.host}:${resolved.port}` });
  else info(options, `starting ${resolved.server} ${resolved.app} with ${resolved.workers} workers on ${resolved.host}:${resolved.port}`);
  try {
    await supervisor.start();
    const model = supervisor.model();
    if (options.json) emit({ event: 'started', masterPid: model.master?.pid, url: model.url, workers: model.workers.map(workerJson) });
    else info(options, `${model.workers.length} workers ready at ${model.url} (Ctrl-C stops)`);
    if (model.reload.onSave) {
      const stopWatching = await watchForReload(supervisor);
      void finished.then(stopWatching);
      if (options.json) emit({ event: 'watching', root: resolved.cwd, include: resolved.reload.include, exclude: resolved.reload.exclude });
      else info(options, `reloading on changes to ${resolved.reload.include.join(', ')} under ${resolved.cwd}`);
    }
  } catch (error) {
    const reason = error instanceof ServerError ? error.reason : 'boot';
    if (reason === 'stopped' && stopRequested) return finished;
    const message = error instanceof Error ? error.message : String(error);
    if (options.json) emit({ event: 'error', reason, message });
    else process.stderr.write(`server-workers: ${message}\n`);
    await supervisor.stop();
    return 1;
  }
  return finished;
}

type FlagValues = Record<string, unknown>;

/** An option the CLI cannot act on (a task that is not there, a malformed --env). Exit code 2. */
class CliUsageError extends Error {}

/** The server's properties the flags give (relative paths from the current directory); absent flags are left out. */
function definitionFromFlags(values: FlagValues, positionals: string[]): Partial<ServerDefinition> {
  const env: Record<string, string> = {};
  for (const pair of (values.env as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliUsageError(`--env takes KEY=VALUE (got "${pair}").`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const definition: Record<string, unknown> = {
    server: values.server,
    app: values.app,
    bind: values.bind,
    workerClass: values['worker-class'],
    interface: values.interface,
    python: typeof values.python === 'string' && values.python.includes('/') ? path.resolve(values.python) : values.python,
    cwd: typeof values.cwd === 'string' ? path.resolve(values.cwd) : undefined,
    env: Object.keys(env).length > 0 ? env : undefined,
    args: positionals.length > 0 ? positionals : undefined,
    insight: values['no-insight'] ? false : undefined,
  };
  for (const [flag, key] of [['workers', 'workers'], ['timeout', 'timeout'], ['graceful-timeout', 'gracefulTimeout']] as const) {
    const raw = values[flag];
    if (raw !== undefined) definition[key] = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return Object.fromEntries(Object.entries(definition).filter(([, v]) => v !== undefined));
}

function flagDefinition(values: FlagValues, positionals: string[]): ResolvedDefinition {
  const definition = definitionFromFlags(values, positionals);
  if (definition.app === undefined) throw new CliUsageError('--app is required (for example --app main:app), or --task NAME to run a task from .vscode/tasks.json.');
  const folder = definition.cwd ?? process.cwd();
  return resolveDefinition(definition, launchContext(folder));
}

/**
 * A tasks.json task as VS Code runs it: its variables expanded (in the parsed values), its relative paths from the
 * workspace folder, the flags given beside --task over its values (--env adds to its env, extra args follow its args).
 */
function taskDefinition(name: string, values: FlagValues, positionals: string[]): ResolvedDefinition {
  const tasksFile = path.resolve(typeof values['tasks-file'] === 'string' ? values['tasks-file'] : path.join('.vscode', 'tasks.json'));
  const folder = path.resolve(typeof values.folder === 'string' ? values.folder : path.basename(path.dirname(tasksFile)) === '.vscode' ? path.dirname(path.dirname(tasksFile)) : '.');
  if (!fs.existsSync(tasksFile)) throw new CliUsageError(`No tasks file at ${tasksFile}. Run from the workspace folder or pass --tasks-file.`);
  let tasks;
  try {
    tasks = readServerTasks(tasksFile);
  } catch (error) {
    throw new CliUsageError((error as Error).message, { cause: error });
  }
  const task = tasks.find((t) => t.label === name);
  if (!task) {
    const known = tasks.map((t) => `"${t.label}"`).join(', ') || 'none';
    throw new CliUsageError(`No serverworkers task named "${name}" in ${tasksFile} (serverworkers tasks there: ${known}).`);
  }
  const fromTask = expandTaskVariables<ServerDefinition>(task.definition, { workspaceFolder: folder, env: process.env });
  for (const key of ['cwd', 'python', 'certfile', 'keyfile'] as const) {
    const value = fromTask[key];
    if (typeof value === 'string' && (key !== 'python' || value.includes('/')) && !path.isAbsolute(value)) fromTask[key] = path.join(folder, value);
  }
  const flags = definitionFromFlags(values, positionals);
  const merged: ServerDefinition = {
    ...fromTask,
    ...flags,
    env: flags.env ? { ...(isStringRecord(fromTask.env) ? fromTask.env : {}), ...flags.env } : fromTask.env,
    args: flags.args ? [...(Array.isArray(fromTask.args) ? fromTask.args : []), ...flags.args] : fromTask.args,
  };
  return resolveDefinition(merged, launchContext(folder));
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function usageError(message: string, options: CliOptions, emit: (event: Record<string, unknown>) => void): number {
  if (options.json) emit({ event: 'error', reason: 'invalid', message });
  else process.stderr.write(`server-workers: ${message}\n`);
  return 2;
}

function workerJson(worker: WorkerModel): Record<string, unknown> {
  return { slot: worker.slot, pid: worker.pid, state: worker.state, restarts: worker.restarts, generation: worker.generation, reason: worker.lastExit?.text };
}

function attachOutput(supervisor: Supervisor, options: CliOptions, emit: (event: Record<string, unknown>) => void): void {
  supervisor.onOutput.on((event) => {
    if (options.json) {
      emitLogLines(event, emit);
      return;
    }
    const linePrefix = prefix(options, event.slot);
    // A line without its newline is shown as a line; its rest follows on a line of its own, marked ↪ (other
    // streams' lines may come between).
    const lines = separateLines(event);
    if (lines.length > 0) stdout.write(lines.map((line) => linePrefix + line).join('\n') + '\n');
  });
  supervisor.onWorker.on(({ type, worker }) => {
    if (options.json) emit({ event: `worker-${type}`, ...workerJson(worker) });
    else if (type === 'exit') info(options, `worker ${worker.slot} (pid ${worker.pid}) ${worker.lastExit?.text ?? 'exited'}`);
  });
  supervisor.onExit.on((exit) => {
    if (options.json) emit({ event: 'master-exit', expected: exit.expected, code: exit.code, signal: exit.signal, error: exit.error });
    else if (!exit.expected) process.stderr.write(`server-workers: ${exit.error}\n`);
  });
  let lastState = '';
  supervisor.onDidChange.on((model) => {
    if (model.state === lastState) return;
    lastState = model.state;
    if (options.json && model.state === 'stopped') emit({ event: 'stopped', masterPid: supervisor.pid });
    if (options.json && model.state === 'failed') emit({ event: 'failed', error: model.error });
  });
  if (options.json) {
    const timer = setInterval(() => {
      const model = supervisor.model();
      if (model.state !== 'stopped' && model.state !== 'failed') emit({ event: 'stats', ...statsJson(model) });
    }, 1000);
    timer.unref();
  }
}

function prefix(options: CliOptions, slot: number): string {
  const source = slot === 0 ? 'master' : `worker.${slot}`;
  return options.color ? `\x1b[${COLORS[slot % COLORS.length]}m${source.padEnd(9)}|\x1b[0m ` : `${source.padEnd(9)}| `;
}

/**
 * One JSON line per line. `partial: true`: the line has no newline yet, and the next log of the same slot, pid and
 * stream continues it (`continued: true`; an empty continued line only ends it). The master's lines say which pipe.
 */
function emitLogLines(event: OutputEvent, emit: (event: Record<string, unknown>) => void): void {
  const last = event.lines.length - 1;
  event.lines.forEach((line, i) => {
    const json: Record<string, unknown> = { event: event.marker ? 'marker' : 'log', slot: event.slot, pid: event.pid, stream: event.stream ?? 'output', line };
    if (i === 0 && event.continues) json.continued = true;
    if (i === last && event.partial) json.partial = true;
    emit(json);
  });
}

function statsJson(model: ServerModel, now = Date.now()): Record<string, unknown> {
  const totals = sumInsights(model.workers);
  return {
    state: model.state,
    master: model.master && { pid: model.master.pid, cpuPercent: round(model.master.cpuPercent), rssBytes: model.master.rssBytes },
    workers: model.workers.map((w) => ({
      slot: w.slot, pid: w.pid, state: w.state, cpuPercent: round(w.cpuPercent), rssBytes: w.rssBytes, restarts: w.restarts, generation: w.generation,
      ...(w.insight ? { requests: requestsJson(w.insight, now) } : {}),
      ...(w.pdb ? { pdb: { file: w.pdb.file, line: w.pdb.line } } : {}),
    })),
    ...(totals ? { requests: { served: totals.served, rate: totals.rate, inFlight: totals.inFlight, statuses: totals.statuses, exceptions: totals.exceptions, worstP99Ms: totals.worstP99Ms } } : {}),
  };
}

/** A worker's request insight in `stats`: its figures, and its oldest requests in flight with their age. */
function requestsJson(insight: WorkerInsight, now: number): Record<string, unknown> {
  const { served, rate, p50Ms, p99Ms, statuses, exceptions, inFlight, timeoutSeconds } = insight;
  return {
    served, rate, p50Ms, p99Ms, statuses, exceptions, inFlight, timeoutSeconds,
    inFlightRequests: insight.requests.map((r) => ({ method: r.method, path: r.path, startedAt: r.startedAt, ageSeconds: round(Math.max(0, now - r.startedAt) / 1000) })),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** For people: what they type goes to a worker's pdb (stdin's end does not stop the server: Ctrl-C does). */
function listenForTypedLines(pdb: CliPdb): void {
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (process.stdin.isTTY) stdout.typed(); // the terminal echoed the line and its Enter
    pdb.typed(line);
  });
}

function listenForCommands(supervisor: Supervisor, pdb: CliPdb, emit: (event: Record<string, unknown>) => void, stop: () => void): void {
  const input = readline.createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === '') return;
    let command: Record<string, unknown>;
    try {
      command = JSON.parse(line) as Record<string, unknown>;
    } catch {
      emit({ event: 'result', ok: false, error: `Not a JSON command: ${line.slice(0, 200)}` });
      return;
    }
    const cmd = command.cmd;
    let work: Promise<void>;
    switch (cmd) {
      case 'scale':
        work = supervisor.scale(Number(command.workers));
        break;
      case 'kill':
        work = supervisor.killWorker(Number(command.slot));
        break;
      case 'reload':
        work = supervisor.reload();
        break;
      case 'restart':
        work = supervisor.restart();
        break;
      case 'stacks':
        supervisor.showStacks(Number(command.slot)).then(
          (result) => emit({ event: 'result', cmd, ok: true, slot: Number(command.slot), ...result }),
          (error: Error) => emit({ event: 'result', cmd, ok: false, error: error.message }),
        );
        return;
      case 'stop':
        stop();
        return;
      case 'input': {
        const error = pdb.input(command.slot, command.text);
        emit(error === undefined ? { event: 'result', cmd, ok: true } : { event: 'result', cmd, ok: false, error });
        return;
      }
      default:
        emit({ event: 'result', cmd, ok: false, error: `Unknown command ${JSON.stringify(cmd)}: use scale, kill, reload, restart, stacks, stop or input.` });
        return;
    }
    work.then(
      () => emit({ event: 'result', cmd, ok: true, workers: supervisor.model().workers.map(workerJson) }),
      (error: Error) => emit({ event: 'result', cmd, ok: false, error: error.message }),
    );
  });
  input.on('close', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`server-workers: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}

function info(options: CliOptions, text: string): void {
  stdout.write(options.color ? `\x1b[2m${'sw'.padEnd(9)}| ${text}\x1b[0m\n` : `${'sw'.padEnd(9)}| ${text}\n`);
}
