/**
 * The variables of a tasks.json, expanded as VS Code expands them for a task, for running a task outside VS Code (the
 * CLI). Expansion happens in the parsed values, never in the JSON text: a value (a folder's name, an environment
 * variable) cannot change the structure of the task.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { DefinitionError } from './definition';

export interface VariableContext {
  workspaceFolder: string;
  env: Record<string, string | undefined>;
  userHome?: string;
  /** Variables to leave as written (export keeps `${env:NAME}` and VS Code's own for the file it writes). */
  keep?: (variable: string, where: string) => boolean;
}

const VARIABLE = /\$\{([^}]*)\}/g;

/** A copy of `value` with every `${...}` in its strings (keys too, as VS Code does) expanded. Throws DefinitionError. */
export function expandTaskVariables<T>(value: T, context: VariableContext): T {
  const problems: string[] = [];
  const expanded = expandValue(value, context, '', problems);
  if (problems.length > 0) throw new DefinitionError(problems);
  return expanded as T;
}

function expandValue(value: unknown, context: VariableContext, where: string, problems: string[]): unknown {
  if (typeof value === 'string') return expandString(value, context, where, problems);
  if (Array.isArray(value)) return value.map((item, index) => expandValue(item, context, `${where}[${index}]`, problems));
  if (typeof value === 'object' && value !== null) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const name = expandString(key, context, where ? `${where}.${key}` : key, problems);
      // Defined, not assigned: a key "__proto__" stays a key (assigned, it would set the object's prototype).
      Object.defineProperty(result, name, { value: expandValue(item, context, where ? `${where}.${name}` : name, problems), enumerable: true, writable: true, configurable: true });
    }
    return result;
  }
  return value;
}

function expandString(text: string, context: VariableContext, where: string, problems: string[]): string {
  return text.replace(VARIABLE, (whole, name: string) => {
    if (context.keep?.(name, where)) return whole;
    const value = variableValue(name, context);
    if (value !== undefined) return value;
    problems.push(`"${where}" uses ${whole}, which only VS Code can expand (the CLI expands \${workspaceFolder}, \${workspaceFolderBasename}, \${userHome}, \${pathSeparator} and \${env:NAME}). Write the value itself in the task, or start the task from VS Code.`);
    return whole;
  });
}

/** True for the variables the CLI expands by itself; the others (`input:`, `command:`, `config:`...) only VS Code can. */
export function expandsOutsideVsCode(name: string): boolean {
  return variableValue(name, { workspaceFolder: '', env: {}, userHome: '' }) !== undefined;
}

function variableValue(name: string, context: VariableContext): string | undefined {
  if (name.startsWith('env:')) return context.env[name.slice('env:'.length)] ?? '';
  switch (name) {
    case 'workspaceFolder':
      return context.workspaceFolder;
    case 'workspaceFolderBasename':
      return path.basename(context.workspaceFolder);
    case 'userHome':
      return context.userHome ?? os.homedir();
    case 'pathSeparator':
    case '/':
      return path.sep;
    default:
      return undefined;
  }
}
