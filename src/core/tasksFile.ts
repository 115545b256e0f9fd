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

export function readServerTasks(tasksJsonPath: string): TaskEntry[] {
  const parsed = parseJsonc(fs.readFileSync(tasksJsonPath, 'utf8')) as { tasks?: Array<Record<string, unknown>> };
  return (parsed.tasks ?? [])
    .filter((task) => task.type === 'serverworkers')
    .map((task) => {
      const { type: _type, label, problemMatcher: _pm, isBackground: _bg, group: _group, presentation: _p, dependsOn: _d, ...rest } = task;
      const name = typeof label === 'string' ? label : typeof rest.app === 'string' ? rest.app : 'server';
      return { label: name, definition: { name, ...rest } as unknown as ServerDefinition };
    });
}

/** Replaces ${workspaceFolder} (and its basename variant) the way VS Code would for a task. */
export function substituteWorkspaceFolder<T>(value: T, folder: string): T {
  const json = JSON.stringify(value).replace(/\$\{workspaceFolder\}/g, folder.replace(/\\/g, '\\\\')).replace(/\$\{workspaceFolderBasename\}/g, folder.split(/[\\/]/).pop() ?? '');
  return JSON.parse(json) as T;
}
