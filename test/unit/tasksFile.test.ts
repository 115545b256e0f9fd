import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DefinitionError } from '../../src/core/definition';
import { parseJsonc, readServerTasks } from '../../src/core/tasksFile';
import { expandTaskVariables } from '../../src/core/taskVariables';

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
    assert.deepStrictEqual(expandTaskVariables({ cwd: '${workspaceFolder}/src', n: 1 }, { workspaceFolder: '/w', env: {} }), { cwd: '/w/src', n: 1 });
  });
});

describe('task variables, as VS Code expands them', () => {
  const context = { workspaceFolder: '/home/me/shop', env: { PORT: '9000', EMPTY: '' }, userHome: '/home/me' };

  it('expands the folder, its name, the home folder, the path separator and environment variables, in keys too', () => {
    const task = {
      cwd: '${workspaceFolder}${pathSeparator}api',
      name: '${workspaceFolderBasename}-${env:PORT}',
      env: { '${env:PORT}_KEY': '${userHome}/x${/}y', UNSET: '${env:NOT_SET_ANYWHERE}' },
      args: ['--port', '${env:PORT}'],
      workers: 2,
    };
    assert.deepStrictEqual(expandTaskVariables(task, context), {
      cwd: '/home/me/shop/api',
      name: 'shop-9000',
      env: { '9000_KEY': '/home/me/x/y', UNSET: '' },
      args: ['--port', '9000'],
      workers: 2,
    });
  });

  it('expands inside parsed values: a folder name with quotes cannot add properties or break the JSON', () => {
    const hostile = { workspaceFolder: '/tmp/w","preLaunch":[["touch","X"]],"cwd":"..', env: {} };
    const expanded = expandTaskVariables({ app: 'main:app', cwd: '${workspaceFolder}' }, hostile);
    assert.deepStrictEqual(Object.keys(expanded), ['app', 'cwd'], 'no property was added');
    assert.strictEqual(expanded.cwd, hostile.workspaceFolder, 'the name is the value, quotes and all');
    assert.strictEqual(expandTaskVariables({ cwd: '${workspaceFolder}' }, { workspaceFolder: '/tmp/a"b', env: {} }).cwd, '/tmp/a"b');
  });

  it('says which property uses a variable only VS Code can expand', () => {
    assert.throws(() => expandTaskVariables({ app: 'main:app', env: { TOKEN: '${input:token}' }, args: ['${command:pick}'] }, context), (error: Error) => {
      assert.ok(error instanceof DefinitionError);
      assert.match(error.message, /"env\.TOKEN" uses \$\{input:token\}, which only VS Code can expand/);
      assert.match(error.message, /"args\[0\]" uses \$\{command:pick\}/);
      return true;
    });
  });
});
