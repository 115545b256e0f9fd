import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { adapterFor, installedServers } from '../../src/core/adapters';
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

describe('granian adapter', () => {
  const granian = adapterFor('granian');
  it('builds an argv array: ASGI unless told, the worker count, respawn of failed workers, the kill timeout', () => {
    const def = resolveDefinition({ server: 'granian', app: 'main:app', workers: 3, bind: '127.0.0.1:9000', args: ['--log-level', 'debug'] }, context);
    assert.deepStrictEqual(granian.argv(def, env({ granian: '2.8.7' }), { runtimeDir: '/r' }), [
      '-m', 'granian', 'main:app', '--interface', 'asgi', '--workers', '3', '--host', '127.0.0.1', '--port', '9000',
      '--respawn-failed-workers', '--workers-kill-timeout', '10', '--log-level', 'debug',
    ]);
  });

  it('passes the interface, HTTPS files, the memory limit as --workers-max-rss, and clamps the kill timeout to granian\'s 1..1800', () => {
    const def = resolveDefinition({ server: 'granian', app: 'main:app', interface: 'wsgi', certfile: 'c.pem', keyfile: 'k.pem', maxMemoryMb: 256, gracefulTimeout: 0 }, context);
    const argv = granian.argv(def, env({ granian: '2.8.7' }), { runtimeDir: '/r' });
    assert.deepStrictEqual(argv.slice(argv.indexOf('--interface'), argv.indexOf('--interface') + 2), ['--interface', 'wsgi']);
    assert.deepStrictEqual(argv.slice(argv.indexOf('--workers-kill-timeout')), [
      '--workers-kill-timeout', '1', '--ssl-certificate', 'c.pem', '--ssl-keyfile', 'k.pem', '--workers-max-rss', '256', '--rss-sample-interval', '1',
    ]);
    const long = resolveDefinition({ server: 'granian', app: 'main:app', gracefulTimeout: 7200 }, context);
    assert.ok(granian.argv(long, env({ granian: '2.8.7' }), { runtimeDir: '/r' }).join(' ').includes('--workers-kill-timeout 1800'));
  });

  it('respawns and reloads by signal, scales by restart, recycles over the memory limit itself', () => {
    const def = resolveDefinition({ server: 'granian', app: 'main:app' }, context);
    assert.deepStrictEqual(granian.capabilities(env({ granian: '2.8.7' }), def), { scale: 'restart', reload: 'signal', respawnsWorkers: true, recyclesOverMemoryLimit: true });
    assert.deepStrictEqual(granian.runTraits(def), { agentlessReadyAt: 'booting', spawnsWorkers: false, positionedWorkers: true });
    assert.strictEqual(granian.runsInOneProcess(resolveDefinition({ server: 'granian', app: 'main:app', workers: 1 }, context)), false);
  });

  it('says what is missing, or too old, and how to install it', () => {
    const def = resolveDefinition({ server: 'granian', app: 'main:app' }, context);
    const missing = granian.checkEnvironment(def, env({ gunicorn: '27.0.1' }))!;
    assert.strictEqual(missing.missingPackage, 'granian');
    assert.match(missing.message, /granian is not installed in the Python interpreter \/venv\/bin\/python \(Python 3\.11\.7\)\. Install it with: \/venv\/bin\/python -m pip install granian/);
    assert.match(granian.checkEnvironment(def, env({ granian: '1.7.6' }))!.message, /Granian 2\.0 or later; \/venv\/bin\/python has Granian 1\.7\.6\. Upgrade it: .* -m pip install -U granian/);
    assert.strictEqual(granian.checkEnvironment(def, env({ granian: '2.8.7' })), undefined);
  });
});

describe('hypercorn adapter', () => {
  const hypercorn = adapterFor('hypercorn');
  it('builds an argv array with --bind (bracketed IPv6), the graceful timeout and HTTPS files', () => {
    const def = resolveDefinition({ server: 'hypercorn', app: 'main:app', workers: 2, bind: '[::1]:8100', certfile: 'c.pem', keyfile: 'k.pem', args: ['--keep-alive', '5'] }, context);
    assert.deepStrictEqual(hypercorn.argv(def, env({ hypercorn: '0.18.0' }), { runtimeDir: '/r' }), [
      '-m', 'hypercorn', 'main:app', '--workers', '2', '--bind', '[::1]:8100', '--graceful-timeout', '10', '--certfile', 'c.pem', '--keyfile', 'k.pem', '--keep-alive', '5',
    ]);
  });

  it('reloads by signal, scales by restart, does not replace a dead worker: it stops with it', () => {
    const def = resolveDefinition({ server: 'hypercorn', app: 'main:app' }, context);
    assert.deepStrictEqual(hypercorn.capabilities(env({ hypercorn: '0.18.0' }), def), { scale: 'restart', reload: 'signal', respawnsWorkers: false, stopsWhenAWorkerDies: true });
    // Hypercorn 0.17 (the last for Python 3.9) has no SIGHUP handler: the signal ends it.
    assert.strictEqual(hypercorn.capabilities(env({ hypercorn: '0.17.3' }), def).reload, 'restart');
    assert.deepStrictEqual(hypercorn.runTraits(def), { agentlessReadyAt: 'started', spawnsWorkers: true, positionedWorkers: false });
  });

  it('says what is missing and how to install it', () => {
    const def = resolveDefinition({ server: 'hypercorn', app: 'main:app' }, context);
    const missing = hypercorn.checkEnvironment(def, env({ uvicorn: '0.54.0' }))!;
    assert.strictEqual(missing.missingPackage, 'hypercorn');
    assert.match(missing.message, /hypercorn is not installed in the Python interpreter \/venv\/bin\/python.* -m pip install hypercorn/);
    assert.strictEqual(hypercorn.checkEnvironment(def, env({ hypercorn: '0.18.0' })), undefined);
  });
});

describe('installed servers', () => {
  it('are the server kinds whose package the interpreter has', () => {
    assert.deepStrictEqual(installedServers(env({ gunicorn: '27.0.1', 'uvicorn-worker': '0.4.0', hypercorn: '0.18.0', debugpy: '1.8.22' })), ['gunicorn', 'hypercorn']);
    assert.deepStrictEqual(installedServers(env({ uvicorn: '0.54.0', granian: '2.8.7' })), ['uvicorn', 'granian']);
    assert.deepStrictEqual(installedServers(env({})), []);
  });
});
