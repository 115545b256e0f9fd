import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { DefinitionError, defaultWorkerCount, parseBind, resolveDefinition, serverUrl } from '../../src/core/definition';

const context = { defaultPython: '/venv/bin/python', defaultCwd: '/work/app', defaultWorkers: 3 };

function problems(raw: unknown): string[] {
  try {
    resolveDefinition(raw, context);
  } catch (error) {
    assert.ok(error instanceof DefinitionError, `a DefinitionError, not ${String(error)}`);
    return error.problems;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

describe('resolveDefinition', () => {
  it('fills defaults: gunicorn, 127.0.0.1:8000, the context interpreter, folder and worker count', () => {
    const def = resolveDefinition({ app: 'main:app' }, context);
    assert.deepStrictEqual(
      { server: def.server, host: def.host, port: def.port, python: def.python, cwd: def.cwd, workers: def.workers, name: def.name, graceful: def.gracefulTimeout },
      { server: 'gunicorn', host: '127.0.0.1', port: 8000, python: '/venv/bin/python', cwd: '/work/app', workers: 3, name: 'main:app', graceful: 10 },
    );
  });

  it('keeps what the definition says', () => {
    const def = resolveDefinition({ server: 'uvicorn', app: 'pkg.web:create_app()', workers: 4, bind: '0.0.0.0:9000', env: { A: '1' }, args: ['--log-level', 'debug'], name: 'api' }, context);
    assert.deepStrictEqual([def.server, def.app, def.workers, def.host, def.port, def.env, def.args, def.name], ['uvicorn', 'pkg.web:create_app()', 4, '0.0.0.0', 9000, { A: '1' }, ['--log-level', 'debug'], 'api']);
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ['workers 0', { app: 'main:app', workers: 0 }, /"workers" must be a whole number from 1 to 64 \(got 0\)/],
    ['workers -1', { app: 'main:app', workers: -1 }, /"workers".*got -1/],
    ['workers "x"', { app: 'main:app', workers: 'x' }, /"workers".*got "x"/],
    ['workers 100000', { app: 'main:app', workers: 100000 }, /"workers".*got 100000/],
    ['workers 1.5', { app: 'main:app', workers: 1.5 }, /"workers"/],
    ['bind without port', { app: 'main:app', bind: 'localhost' }, /"bind" must be host:port/],
    ['bind port 0', { app: 'main:app', bind: '127.0.0.1:0' }, /"bind"/],
    ['bind port 70000', { app: 'main:app', bind: '127.0.0.1:70000' }, /"bind"/],
    ['app main', { app: 'main' }, /"app" must look like module:attribute/],
    ['app main:', { app: 'main:' }, /"app" must look like/],
    ['app :app', { app: ':app' }, /"app" must look like/],
    ['app with shell', { app: 'main:app; touch /tmp/x' }, /"app" must look like/],
    ['no app', {}, /"app" is required/],
    ['server nginx', { app: 'main:app', server: 'nginx' }, /"server" must be "gunicorn", "uvicorn", "granian" or "hypercorn" \(got "nginx"\)/],
    ['env number', { app: 'main:app', env: { PORT: 8000 } }, /"env.PORT" must be a string/],
    ['env not object', { app: 'main:app', env: ['A=1'] }, /"env" must be an object/],
    ['args string', { app: 'main:app', args: '--reload' }, /"args" must be an array of strings/],
    ['empty python', { app: 'main:app', python: '' }, /"python" must be a non-empty string/],
    ['timeout negative', { app: 'main:app', timeout: -5 }, /"timeout" must be a whole number of seconds/],
    ['workerClass on uvicorn', { app: 'main:app', server: 'uvicorn', workerClass: 'sync' }, /applies to gunicorn only/],
    ['workerClass on granian', { app: 'main:app', server: 'granian', workerClass: 'sync' }, /"workerClass" applies to gunicorn only.*granian takes "interface"/],
    ['interface unknown', { app: 'main:app', server: 'granian', interface: 'asgi3' }, /"interface" must be "asgi", "asginl", "rsgi" or "wsgi": how granian calls the app \(got "asgi3"\)\. Use "wsgi" for Flask/],
    ['interface not a string', { app: 'main:app', server: 'granian', interface: 3 }, /"interface" must be .*\(got 3\)/],
    ['interface on gunicorn', { app: 'main:app', interface: 'wsgi' }, /"interface" applies to granian only; remove it or set "server": "granian"/],
    ['maxMemoryMb on hypercorn', { app: 'main:app', server: 'hypercorn', maxMemoryMb: 512 }, /"maxMemoryMb" is not available with hypercorn: hypercorn stops the whole server/],
  ];
  for (const [title, raw, expected] of invalid) {
    it(`rejects ${title} with a message that says what and how`, () => {
      assert.match(problems(raw).join('\n'), expected);
    });
  }

  it('granian calls the app by ASGI unless told; other servers have no interface', () => {
    assert.strictEqual(resolveDefinition({ server: 'granian', app: 'main:app' }, context).interface, 'asgi');
    assert.strictEqual(resolveDefinition({ server: 'granian', app: 'main:app', interface: 'wsgi' }, context).interface, 'wsgi');
    assert.strictEqual(resolveDefinition({ server: 'hypercorn', app: 'main:app' }, context).interface, undefined);
  });

  it('reports every problem at once', () => {
    assert.strictEqual(problems({ app: 'main', workers: 0, bind: 'x' }).length, 3);
  });

  it('rejects a non-object', () => {
    assert.match(problems('main:app').join(''), /must be an object/);
  });
});

describe('parseBind and serverUrl', () => {
  it('parses IPv4, names and bracketed IPv6', () => {
    assert.deepStrictEqual(parseBind('127.0.0.1:8000'), { host: '127.0.0.1', port: 8000 });
    assert.deepStrictEqual(parseBind('localhost:80'), { host: 'localhost', port: 80 });
    assert.deepStrictEqual(parseBind('[::1]:8080'), { host: '::1', port: 8080 });
    assert.strictEqual(parseBind(':8000'), undefined);
  });

  it('gives a browsable URL for wildcard binds', () => {
    assert.strictEqual(serverUrl({ host: '0.0.0.0', port: 80 }), 'http://127.0.0.1:80');
    assert.strictEqual(serverUrl({ host: '::1', port: 81 }), 'http://[::1]:81');
  });
});

describe('defaultWorkerCount', () => {
  it('is Gunicorn\'s (2 x CPUs) + 1, within 1..64', () => {
    assert.deepStrictEqual([1, 2, 4, 100].map(defaultWorkerCount), [3, 5, 9, 64]);
  });
});
