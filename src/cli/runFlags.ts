/** The `run` command's flags (named like the serverworkers task properties) and the launch request they make. */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { ServerDefinition } from '../core/definition';
import { type LaunchRequest, LaunchRequestError } from '../core/launchRequest';

/** The flags that say which server runs, shared by every command that launches or describes one. */
export const DEFINITION_FLAGS = {
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
  'reload-timeout': { type: 'string' },
  task: { type: 'string' },
  'tasks-file': { type: 'string' },
  folder: { type: 'string' },
  'no-insight': { type: 'boolean' },
} as const;

const RUN_FLAGS = {
  ...DEFINITION_FLAGS,
  'no-agent': { type: 'boolean' },
  reload: { type: 'boolean' },
  json: { type: 'boolean' },
  metrics: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type FlagValues = Record<string, unknown>;

/** Parses `run`'s arguments; throws node's own error (with its message) on an unknown or malformed flag. */
export function parseRunFlags(args: string[]): { values: FlagValues; positionals: string[] } {
  return parseArgs({ args, allowPositionals: true, options: RUN_FLAGS });
}

/** The launch the flags ask for: `--task` and its file and folder, and the properties the other flags give. */
export function launchRequestFromFlags(values: FlagValues, positionals: string[]): LaunchRequest {
  const properties = definitionFromFlags(values, positionals);
  const request: LaunchRequest = { properties };
  if (typeof values.task === 'string') request.task = values.task;
  if (typeof values['tasks-file'] === 'string') request.tasksFile = values['tasks-file'];
  if (typeof values.folder === 'string') request.folder = values.folder;
  if (request.task === undefined && properties.app === undefined) {
    throw new LaunchRequestError('--app is required (for example --app main:app), or --task NAME to run a task from .vscode/tasks.json.');
  }
  return request;
}

/** The server's properties the flags give (relative paths from the current directory); absent flags are left out. */
function definitionFromFlags(values: FlagValues, positionals: string[]): Partial<ServerDefinition> {
  const env: Record<string, string> = {};
  for (const pair of (values.env as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new LaunchRequestError(`--env takes KEY=VALUE (got "${pair}").`);
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
  for (const [flag, key] of [['workers', 'workers'], ['timeout', 'timeout'], ['graceful-timeout', 'gracefulTimeout'], ['reload-timeout', 'reloadTimeout']] as const) {
    const raw = values[flag];
    if (raw !== undefined) definition[key] = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return Object.fromEntries(Object.entries(definition).filter(([, v]) => v !== undefined));
}
