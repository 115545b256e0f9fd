import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { adapterFor } from '../../src/core/adapters';
import { resolveDefinition } from '../../src/core/definition';
import type { PythonEnvironment } from '../../src/core/pythonEnvironment';

const context = { defaultPython: 'python3', defaultCwd: '/app', defaultWorkers: 2 };
const env = (packages: PythonEnvironment['packages'], gunicornSettings: string[] = []): PythonEnvironment => ({ python: '/venv/bin/python', pythonVersion: '3.11.7', packages, gunicornSettings });

describe('gunicorn adapter', () => {
  const gunicorn = adapterFor('gunicorn');
  it('builds an argv array with UvicornWorker from uvicorn-worker when installed, and a private control socket', () => {
    const def = resolveDefinition({ app: 'main:app', workers: 3, bind: '127.0.0.1:9000', timeout: 5, args: ['--access-logfile', '-'] }, context);
    assert.deepStrictEqual(gunicorn.argv(def, env({ gunicorn: '27.0.1', 'uvicorn-worker': '0.4.0' }, ['control_socket']), { runtimeDir: '/run/x' }), [
      '-m', 'gunicorn', 'main:app', '--workers', '3', '--worker-class', 'uvicorn_worker.UvicornWorker', '--bind', '127.0.0.1:9000',
      '--graceful-timeout', '10', '--timeout', '5', '--control-socket', '/run/x/gunicorn.ctl', '--access-logfile', '-',
    ]);
  });

  it('falls back to uvicorn.workers.UvicornWorker, and passes metacharacters as plain arguments', () => {
    const def = resolveDefinition({ app: 'main:app', args: ['$(touch /tmp/x)', '; rm -rf /'] }, context);
    const argv = gunicorn.argv(def, env({ gunicorn: '23.0.0', uvicorn: '0.30.0' }), { runtimeDir: '/r' });
    assert.ok(argv.includes('uvicorn.workers.UvicornWorker'));
    assert.deepStrictEqual(argv.slice(-2), ['$(touch /tmp/x)', '; rm -rf /']);
    assert.ok(!argv.includes('--control-socket'), 'older gunicorn has no control socket option');
  });

  it('says what is missing and how to install it', () => {
    const def = resolveDefinition({ app: 'main:app' }, context);
    assert.strictEqual(gunicorn.checkEnvironment(def, env({ uvicorn: '0.30.0' }))!.missingPackage, 'gunicorn');
    assert.match(gunicorn.checkEnvironment(def, env({ uvicorn: '0.30.0' }))!.message, /gunicorn is not installed in the Python interpreter \/venv\/bin\/python.*pip install gunicorn/);
    const asgi = resolveDefinition({ app: 'main:app', workerClass: 'asgi' }, context);
    assert.match(gunicorn.checkEnvironment(asgi, env({ gunicorn: '23.0.0' }))!.message, /needs Gunicorn 24/);
    assert.strictEqual(gunicorn.checkEnvironment(asgi, env({ gunicorn: '27.0.1' })), undefined);
  });
});

describe('uvicorn adapter', () => {
  const uvicorn = adapterFor('uvicorn');
  it('scales and reloads by signal from 0.30, by restart before', () => {
    const def = resolveDefinition({ server: 'uvicorn', app: 'main:app', workers: 2 }, context);
    assert.deepStrictEqual(uvicorn.capabilities(env({ uvicorn: '0.54.0' }), def), { scale: 'signal', reload: 'signal', respawnsWorkers: true });
    assert.deepStrictEqual(uvicorn.capabilities(env({ uvicorn: '0.29.0' }), def), { scale: 'restart', reload: 'restart', respawnsWorkers: false });
  });

  it('runs one worker without a supervisor, so it cannot take signals', () => {
    const one = resolveDefinition({ server: 'uvicorn', app: 'main:app', workers: 1 }, context);
    assert.strictEqual(uvicorn.runsInOneProcess(one), true);
    assert.strictEqual(uvicorn.capabilities(env({ uvicorn: '0.54.0' }), one).scale, 'restart');
  });

  it('builds host and port flags', () => {
    const def = resolveDefinition({ server: 'uvicorn', app: 'main:app', workers: 2, bind: '127.0.0.1:8100' }, context);
    assert.deepStrictEqual(uvicorn.argv(def, env({ uvicorn: '0.54.0' }), { runtimeDir: '/r' }), ['-m', 'uvicorn', 'main:app', '--workers', '2', '--host', '127.0.0.1', '--port', '8100', '--timeout-graceful-shutdown', '10']);
  });
});
