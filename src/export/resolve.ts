/**
 * A task (or the run flags) resolved for export exactly as `server-workers run` resolves it, except for variables:
 * an env value's `${env:NAME}` or `${input:...}` is kept as written (the files reference the variable where the app
 * runs, never the value here), and a VS Code-only variable anywhere else is an error that says what to do.
 */
import type { ResolvedDefinition } from '../core/definition';
import { type LaunchRequest, resolveLaunchRequest, tasksLocation } from '../core/launchRequest';
import { expandsOutsideVsCode } from '../core/taskVariables';
import type { KeptVariable } from './types';

/** An export that cannot be made as asked: what was wrong and what to do. */
export class ExportError extends Error {}

export interface ExportTask {
  definition: ResolvedDefinition;
  /** The project's folder: the task's workspace folder, or the server's folder without a task. */
  folder: string;
  kept: KeptVariable[];
}

const ENV_VALUE = /^env\.[^.[]+$/;

export function resolveForExport(request: LaunchRequest, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env, defaultPython?: string): ExportTask {
  const kept: KeptVariable[] = [];
  const keepVariable = (variable: string, where: string) => {
    const vsCodeOnly = !expandsOutsideVsCode(variable);
    if (vsCodeOnly || (ENV_VALUE.test(where) && variable.startsWith('env:'))) {
      kept.push({ where, variable });
      return true;
    }
    return false;
  };
  let definition: ResolvedDefinition;
  try {
    definition = resolveLaunchRequest(request, cwd, env, { keepVariable, defaultPython });
  } catch (error) {
    checkKept(request, kept);
    throw error;
  }
  checkKept(request, kept);
  const folder = request.task !== undefined ? tasksLocation(request, cwd).folder : definition.cwd;
  return { definition, folder, kept };
}

/** Throws when a VS Code-only variable is anywhere but in an env value, where no reference can stand for it. */
function checkKept(request: LaunchRequest, kept: KeptVariable[]): void {
  const blocking = kept.filter((k) => !ENV_VALUE.test(k.where));
  if (blocking.length === 0) return;
  const uses = blocking.map((k) => `"${k.where}" uses \${${k.variable}}`).join('; ');
  throw new ExportError(
    `The task "${request.task ?? 'server'}" cannot be exported as it is: ${uses}, which only VS Code can ask for, and the exported files run without VS Code. ` +
    'Write the value in the task, or give it with the flag of the same name (for example --workers 4); in an env value such a variable is kept, and the files reference it.',
  );
}
