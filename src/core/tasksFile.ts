/** Reading `serverworkers` tasks from a `.vscode/tasks.json` (JSON with comments and trailing commas). */
import * as fs from 'node:fs';
import type { ServerDefinition } from './definition';

/** Strips // and block comments and trailing commas, leaving strings intact. */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else {
      out += ch;
      i++;
    }
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
}

export interface TaskEntry {
  label: string;
  definition: ServerDefinition;
}

/** The serverworkers tasks of a tasks.json; throws an Error that names the file when it cannot be read as one. */
export function readServerTasks(tasksJsonPath: string): TaskEntry[] {
  let parsed: unknown;
  try {
    parsed = parseJsonc(fs.readFileSync(tasksJsonPath, 'utf8'));
  } catch (error) {
    throw new Error(`${tasksJsonPath} could not be read as JSON with comments: ${(error as Error).message}. Fix the file (VS Code marks the place).`, { cause: error });
  }
  const tasks = typeof parsed === 'object' && parsed !== null ? (parsed as { tasks?: unknown }).tasks : undefined;
  if (tasks !== undefined && !Array.isArray(tasks)) throw new Error(`${tasksJsonPath}: "tasks" must be a list of tasks.`);
  return ((tasks ?? []) as unknown[])
    .filter((task): task is Record<string, unknown> => typeof task === 'object' && task !== null && (task as Record<string, unknown>).type === 'serverworkers')
    .map((task) => {
      const { type: _type, label, problemMatcher: _pm, isBackground: _bg, group: _group, presentation: _p, dependsOn: _d, ...rest } = task;
      const name = typeof label === 'string' ? label : typeof rest.app === 'string' ? rest.app : 'server';
      return { label: name, definition: { name, ...rest } as unknown as ServerDefinition };
    });
}
