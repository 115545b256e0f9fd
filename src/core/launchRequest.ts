/**
 * What a launch asks for, resolved into a definition the same way wherever it comes from (the CLI's `run` flags, an
 * agent's `start_server`, `export`): a task of a tasks.json, as VS Code runs it, or properties alone; the properties
 * given beside a task override its values (`env` adds to its env, `args` follow its args).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveDefinition, type ResolvedDefinition, type ServerDefinition } from './definition';
import { launchContext } from './launchContext';
import { readServerTasks } from './tasksFile';
import { expandTaskVariables } from './taskVariables';

export interface LaunchRequest {
  /** A serverworkers task's label. */
  task?: string;
  /** The tasks.json to read (default `<cwd>/.vscode/tasks.json`). */
  tasksFile?: string;
  /** The task's workspace folder (default: the folder of `.vscode/`). */
  folder?: string;
  /** Properties that override the task's, or that make the whole definition without a task. */
  properties: Partial<ServerDefinition>;
}

/** How a caller that is not `run` resolves: export keeps some variables as written, VS Code picks the interpreter. */
export interface ResolveOptions {
  /** Variables left as written instead of expanded (see `VariableContext.keep`). */
  keepVariable?: (variable: string, where: string) => boolean;
  /** The interpreter when the definition names none (default: the folder's virtualenv, else python3). */
  defaultPython?: string;
}

/** A request that cannot be acted on (a task that is not there, no app): what was wrong and what to do. */
export class LaunchRequestError extends Error {}

/**
 * The definition a request asks for. Relative paths are taken from `cwd` (the request's own) or, in a task, from its
 * workspace folder. Throws `LaunchRequestError` or the definition's `DefinitionError`.
 */
export function resolveLaunchRequest(request: LaunchRequest, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env, options: ResolveOptions = {}): ResolvedDefinition {
  if (request.task !== undefined) return taskDefinition(request.task, request, cwd, env, options);
  const { properties } = request;
  if (properties.app === undefined) throw new LaunchRequestError('An app is required (for example main:app), or a task to run from .vscode/tasks.json.');
  return resolveDefinition(properties, contextFor(properties.cwd ?? cwd, options));
}

function contextFor(folder: string, options: ResolveOptions) {
  const context = launchContext(folder);
  return options.defaultPython === undefined ? context : { ...context, defaultPython: options.defaultPython };
}

/** Where a request's tasks.json and workspace folder are. */
export function tasksLocation(request: Pick<LaunchRequest, 'tasksFile' | 'folder'>, cwd = process.cwd()): { tasksFile: string; folder: string } {
  const tasksFile = path.resolve(cwd, request.tasksFile ?? path.join('.vscode', 'tasks.json'));
  const besideVscode = path.basename(path.dirname(tasksFile)) === '.vscode' ? path.dirname(path.dirname(tasksFile)) : cwd;
  return { tasksFile, folder: path.resolve(cwd, request.folder ?? besideVscode) };
}

function taskDefinition(name: string, request: LaunchRequest, cwd: string, env: NodeJS.ProcessEnv, options: ResolveOptions): ResolvedDefinition {
  const { tasksFile, folder } = tasksLocation(request, cwd);
  if (!fs.existsSync(tasksFile)) throw new LaunchRequestError(`No tasks file at ${tasksFile}. Run from the workspace folder or pass --tasks-file.`);
  let tasks;
  try {
    tasks = readServerTasks(tasksFile);
  } catch (error) {
    throw new LaunchRequestError((error as Error).message, { cause: error });
  }
  const task = tasks.find((t) => t.label === name);
  if (!task) {
    const known = tasks.map((t) => `"${t.label}"`).join(', ') || 'none';
    throw new LaunchRequestError(`No serverworkers task named "${name}" in ${tasksFile} (serverworkers tasks there: ${known}).`);
  }
  const fromTask = expandTaskVariables<ServerDefinition>(task.definition, { workspaceFolder: folder, env, keep: options.keepVariable });
  for (const key of ['cwd', 'python', 'certfile', 'keyfile'] as const) {
    const value = fromTask[key];
    if (typeof value === 'string' && (key !== 'python' || value.includes('/')) && !path.isAbsolute(value)) fromTask[key] = path.join(folder, value);
  }
  const overrides = request.properties;
  const merged: ServerDefinition = {
    ...fromTask,
    ...overrides,
    env: overrides.env ? { ...(isStringRecord(fromTask.env) ? fromTask.env : {}), ...overrides.env } : fromTask.env,
    args: overrides.args ? [...(Array.isArray(fromTask.args) ? fromTask.args : []), ...overrides.args] : fromTask.args,
  };
  return resolveDefinition(merged, contextFor(folder, options));
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
