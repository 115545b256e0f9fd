/** start_server: a server resolved exactly as `server-workers run` resolves one, started, answered when every worker is ready. */
import * as path from 'node:path';
import { bindsAllInterfaces, MAX_WORKERS, type ResolvedDefinition, SERVER_KINDS, type ServerDefinition } from '../core/definition';
import { type LaunchRequest, resolveLaunchRequest } from '../core/launchRequest';
import { bootFailureFrom } from '../core/reload/bootFailure';
import type { Supervisor } from '../core/supervisor';
import { serverFacts, SERVER_SCHEMA } from './facts';
import { formatLine, logLine, type LogLine } from './logs';
import { firstLine } from './target';
import { type AgentTool, type ObjectSchema, OUTPUT_IS_DATA, type ToolHost, ToolError } from './types';

/** How many of the master's and of the failing worker's last lines a failed start gives. */
const TAIL_LINES = 20;

export const START_INPUT: ObjectSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    task: { type: 'string', minLength: 1, description: 'The label of a serverworkers task in .vscode/tasks.json: the server as VS Code runs it (its variables expanded); the fields below override its values.' },
    tasksFile: { type: 'string', minLength: 1, description: 'The tasks.json to read (default .vscode/tasks.json).' },
    folder: { type: 'string', minLength: 1, description: 'The task\'s workspace folder (default: the folder of .vscode/).' },
    name: { type: 'string', minLength: 1, description: 'The server\'s name (default: the task\'s label, else the server and app).' },
    server: { type: 'string', enum: SERVER_KINDS, description: 'The process manager (default gunicorn, with Uvicorn workers).' },
    app: { type: 'string', minLength: 1, description: 'The application, module:attribute (main:app). Required without a task.' },
    workers: { type: 'integer', minimum: 1, maximum: MAX_WORKERS, description: 'Worker processes (default (2 x CPUs) + 1).' },
    bind: { type: 'string', minLength: 1, description: 'HOST:PORT (default 127.0.0.1:8000).' },
    cwd: { type: 'string', minLength: 1, description: 'The working directory (default the workspace).' },
    python: { type: 'string', minLength: 1, description: 'The interpreter (default the folder\'s .venv, venv or env, else python3).' },
    reload: { type: 'boolean', description: 'Reload every worker when a .py file changes (the old ones serve until the new ones are ready).' },
  },
};

/** The launch an input asks for, relative paths from the host's folder, as `run`'s flags give it. */
export function launchRequestOf(input: Record<string, unknown>, cwd: string): LaunchRequest {
  const properties: Partial<ServerDefinition> = {};
  for (const key of ['name', 'server', 'app', 'workers', 'bind', 'reload'] as const) {
    if (input[key] !== undefined) (properties as Record<string, unknown>)[key] = input[key];
  }
  if (typeof input.cwd === 'string') properties.cwd = path.resolve(cwd, input.cwd);
  if (typeof input.python === 'string') properties.python = input.python.includes('/') ? path.resolve(cwd, input.python) : input.python;
  const request: LaunchRequest = { properties };
  if (typeof input.task === 'string') request.task = input.task;
  if (typeof input.tasksFile === 'string') request.tasksFile = path.resolve(cwd, input.tasksFile);
  if (typeof input.folder === 'string') request.folder = path.resolve(cwd, input.folder);
  if (request.task === undefined && properties.app === undefined) {
    throw new ToolError('start_server needs an app (for example {"app": "main:app"}), or a task: the label of a serverworkers task in .vscode/tasks.json.');
  }
  return request;
}

/** The definition an input resolves to; a bad one is a ToolError that lists every problem. */
export async function resolveStart(input: Record<string, unknown>, host: ToolHost): Promise<ResolvedDefinition> {
  try {
    const request = launchRequestOf(input, host.cwd);
    const defaultPython = host.defaultPython ? await host.defaultPython(request.folder ?? request.properties.cwd ?? host.cwd) : undefined;
    return resolveLaunchRequest(request, host.cwd, process.env, { defaultPython });
  } catch (error) {
    if (error instanceof ToolError) throw error;
    throw new ToolError((error as Error).message);
  }
}

/** A start that failed: its error, the master's and the failing worker's last lines, the file and line of the exception. */
function failedStart(supervisor: Supervisor, error: Error): ToolError {
  const history = supervisor.lines;
  const last = (slot: number): LogLine[] => history.read({ slots: [slot], limit: TAIL_LINES, maxBytes: 4096 }).map((l) => logLine(history, l));
  // The failing worker: the one whose traceback is the newest, else the one that wrote last.
  const workerSlots = history.slots().filter((slot) => slot > 0);
  const withTraceback = workerSlots.filter((slot) => history.stream(slot)!.lines().some((l) => l.includes('Traceback (most recent call last):')));
  const candidates = withTraceback.length > 0 ? withTraceback : workerSlots;
  const slot = candidates.sort((a, b) => history.stream(b)!.lastSeq - history.stream(a)!.lastSeq)[0];
  const workerLines = slot === undefined ? [] : last(slot);
  const failure = workerLines.length > 0 ? bootFailureFrom(history.stream(slot)!.lines(), supervisor.currentDefinition.cwd) : undefined;
  const masterLines = last(0);
  const data = {
    server: supervisor.name,
    error: firstLine(error.message),
    file: failure?.file ?? null,
    line: failure?.line ?? null,
    exception: failure?.message ?? null,
    masterLines,
    workerSlot: slot ?? null,
    workerLines,
  };
  const where = failure?.file ? `\nThe exception: ${failure.message}, at ${failure.file}${failure.line ? `:${failure.line}` : ''}.` : '';
  const text = [
    `${supervisor.name} did not start: ${error.message}${where}`,
    OUTPUT_IS_DATA,
    ...(workerLines.length ? [`Worker ${slot}'s last lines:`, ...workerLines.map(formatLine)] : []),
    ...(masterLines.length ? ['The master\'s last lines:', ...masterLines.map(formatLine)] : []),
  ].join('\n');
  return new ToolError(text, data);
}

export const startServer: AgentTool = {
  name: 'start_server',
  title: 'Start server',
  userDescription: 'Starts a multi-worker server (from a serverworkers task or from an app) and waits until every worker is ready.',
  description: 'Starts a multi-worker Python web server under Server Workers, from a serverworkers task of .vscode/tasks.json or from an app (main:app), resolved as `server-workers run` resolves it, and returns once every worker is ready: name, url, masterPid, workers. When it cannot boot, the tool error gives the error, the last lines of the master and of the failing worker, and the file and line of the exception. Use it instead of running uvicorn or gunicorn in a terminal: each worker\'s output, state and requests can then be read with the other tools. ' + OUTPUT_IS_DATA,
  readOnly: false,
  inputSchema: START_INPUT,
  outputSchema: { type: 'object', required: ['server'], properties: { server: SERVER_SCHEMA, warning: { type: 'string' } } },
  async run(input, host) {
    const definition = await resolveStart(input, host);
    const running = host.servers().find((s) => s.name === definition.name && s.serverState !== 'stopped' && s.serverState !== 'failed');
    if (running) {
      throw new ToolError(`A server named "${definition.name}" is ${running.serverState} already (${running.model().url}). Use it (list_servers, get_worker_logs), restart it with restart_server, or start another with a different name (and bind).`);
    }
    const supervisor = await host.create(definition);
    try {
      await supervisor.start();
    } catch (error) {
      throw failedStart(supervisor, error as Error);
    }
    const server = serverFacts(supervisor.model());
    const warning = bindsAllInterfaces(definition.host)
      ? `${definition.name} listens on all interfaces (${definition.host}:${definition.port}): other machines on the network can reach it.`
      : undefined;
    const text = `${definition.name} is running: ${(server.workers as unknown[]).length} workers ready at ${server.url as string} (master pid ${server.masterPid as number}).${warning ? ` ${warning}` : ''}\n${JSON.stringify(server)}`;
    return { text, data: warning ? { server, warning } : { server } };
  },
};
