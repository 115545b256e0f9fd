/** `server-workers run`: one server in a terminal, for people (prefixed, coloured lines) and scripts (--json). */
import { bindsAllInterfaces, DefinitionError } from '../core/definition';
import { agentDirectory } from '../core/launchContext';
import { LaunchRequestError, resolveLaunchRequest } from '../core/launchRequest';
import { ServerError, Supervisor } from '../core/supervisor';
import { listenForCommands, listenForTypedLines } from './jsonCommands';
import { attachOutput, type CliOptions, type Emit, info, prefix, stdout, workerJson } from './output';
import { METRICS_USAGE, metricsFlagProblem, startMetrics } from './metrics';
import { CliPdb } from './pdb';
import { reportReloads, watchForReload } from './reload';
import { launchRequestFromFlags, parseRunFlags } from './runFlags';

export const RUN_USAGE = `Usage: server-workers run [options] [-- extra server args]

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
  --reload-timeout S          seconds a reload's new code may take to import and boot before the save
                              is refused, the old workers serving on (default 60)
  --no-agent                  attribute lines by the pids in log formats instead of the in-worker agent
  --no-insight                do not count each worker's requests (request insight; as "insight": false)
  --json                      JSON lines on stdout (a "stats" event each second: per-worker CPU, memory
                              and requests); commands as JSON lines on stdin:
                              {"cmd":"scale","workers":N} {"cmd":"kill","slot":N} {"cmd":"reload"}
                              {"cmd":"restart"} {"cmd":"stop"}; {"cmd":"stacks","slot":N} writes
                              that worker's stacks as its log lines; {"cmd":"input","slot":N,"text":"p x\\n"}
                              (a line for that worker's pdb); EOF on stdin stops the server;
                              reload events: reload-started, reloaded, reload-failed (file, line)
${METRICS_USAGE}
  -h, --help                  this text

Exit codes: 0 stopped as asked, 1 the server failed, 2 invalid options.`;

export async function runCommand(rest: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseRunFlags(rest);
  } catch (error) {
    process.stderr.write(`server-workers: ${(error as Error).message}\n\n${RUN_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const json = values.json === true;
  const options: CliOptions = { json, color: !json && process.stdout.isTTY === true };
  const emit: Emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

  let resolved;
  try {
    const problem = metricsFlagProblem(values.metrics);
    if (problem) return usageError(problem, options, emit);
    resolved = resolveLaunchRequest(launchRequestFromFlags(values, positionals));
  } catch (error) {
    if (error instanceof DefinitionError || error instanceof LaunchRequestError) return usageError(error.message, options, emit);
    throw error;
  }
  if (bindsAllInterfaces(resolved.host)) {
    const warning = `${resolved.name} listens on all interfaces (${resolved.host}:${resolved.port}): other machines on your network can reach it. Bind 127.0.0.1 unless you mean to expose it.`;
    if (options.json) emit({ event: 'warning', message: warning });
    else process.stderr.write(`server-workers: ${warning}\n`);
  }

  const supervisor = new Supervisor(resolved, { agentDir: values['no-agent'] === true ? undefined : agentDirectory() });
  if (values.reload === true) supervisor.setReloadOnSave(true);
  attachOutput(supervisor, options, emit);
  const pdb = new CliPdb(supervisor, {
    json: options.json,
    emit,
    slotLine: (slot, text, partial) => stdout.write(`${prefix(options, slot)}${text}${partial ? '' : '\n'}`, partial),
    info: (text) => info(options, text),
  });
  reportReloads(supervisor, options.json, emit);
  const metrics = await startMetrics(values.metrics, supervisor, options, emit);
  if (metrics instanceof Error) return 1;

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
  void finished.then(() => metrics?.close());

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

function usageError(message: string, options: CliOptions, emit: Emit): number {
  if (options.json) emit({ event: 'error', reason: 'invalid', message });
  else process.stderr.write(`server-workers: ${message}\n`);
  return 2;
}

