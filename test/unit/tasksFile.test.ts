import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseJsonc, readServerTasks, substituteWorkspaceFolder } from '../../src/core/tasksFile';

describe('tasks.json', () => {
  it('parses comments and trailing commas but keeps // inside strings', () => {
    assert.deepStrictEqual(parseJsonc('{ // c\n "a": "http://x", /* b */ "b": [1, 2,], }'), { a: 'http://x', b: [1, 2] });
  });

  it('reads the serverworkers tasks by label', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-tasks-'));
    const file = path.join(dir, 'tasks.json');
    fs.writeFileSync(file, '{ "version": "2.0.0", "tasks": [ { "label": "api", "type": "serverworkers", "app": "main:app", "workers": 2, "problemMatcher": [] }, { "label": "x", "type": "shell", "command": "ls" } ] }');
    assert.deepStrictEqual(readServerTasks(file), [{ label: 'api', definition: { name: 'api', app: 'main:app', workers: 2 } }]);
    fs.rmSync(dir, { recursive: true });
  });

  it('substitutes ${workspaceFolder}', () => {
    assert.deepStrictEqual(substituteWorkspaceFolder({ cwd: '${workspaceFolder}/src', n: 1 }, '/w'), { cwd: '/w/src', n: 1 });
  });
});
