/** Each way a start can fail ends in a clear error, and nothing is left running. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import { ServerError } from '../../src/core/supervisor';
import { oldUvicornPython, testPython } from '../support/paths';
import { createServer, stopAndCheck } from './support';

async function startFails(definition: Partial<ServerDefinition>): Promise<{ error: Error; state: string }> {
  const server = await createServer(definition);
  let error: Error | undefined;
  try {
    await server.supervisor.start();
  } catch (caught) {
    error = caught as Error;
  }
  assert.ok(error, 'start() rejected');
  const state = server.supervisor.serverState;
  await stopAndCheck(server);
  return { error, state };
}

describe('start errors', { timeout: 120000 }, () => {
  it('the app module does not exist: the traceback and the master\'s reason', async () => {
    const { error, state } = await startFails({ app: 'no_such_module:app', workers: 2 });
    assert.strictEqual(state, 'failed');
    assert.match(error.message, /No module named 'no_such_module'/);
    assert.match(error.message, /exited with code/);
  });

  it('the app attribute does not exist', async () => {
    const { error } = await startFails({ app: 'echo_asgi:nope', workers: 2 });
    assert.match(error.message, /^The gunicorn master \(pid \d+\) exited with code \d+: App failed to load\./);
    assert.match(error.message, /Failed to find attribute 'nope' in 'echo_asgi'/);
  });

  it('the app fails at import in every worker (Gunicorn halts instead of looping)', async () => {
    const { error } = await startFails({ app: 'boot_fails:app', workers: 2 });
    assert.match(error.message, /App failed to load|Worker failed to boot/);
    assert.match(error.message, /A worker's last output:\nTraceback/);
    assert.match(error.message, /boot_fails\.py", line 2/);
    assert.match(error.message, /nonexistent_module_for_server_workers_tests/);
  });

  it('uvicorn workers fail at boot: the supervisor stops instead of respawning forever', async () => {
    const { error } = await startFails({ server: 'uvicorn', app: 'boot_fails:app', workers: 2 });
    assert.match(error.message, /Workers keep failing at boot \(4 exited before they were ready\); Server Workers stopped the retries/);
    assert.match(error.message, /nonexistent_module_for_server_workers_tests/);
  });

  it('the port is in use: says which process holds it', async () => {
    const holder = net.createServer();
    const server = await createServer({ workers: 2 });
    await new Promise<void>((resolve) => holder.listen(server.port, '127.0.0.1', resolve));
    try {
      await assert.rejects(server.supervisor.start(), (error: Error) => {
        assert.ok(error instanceof ServerError);
        assert.strictEqual(error.reason, 'port');
        assert.match(error.message, new RegExp(`Port ${server.port} on 127.0.0.1 is already in use by process ${process.pid} \\(`));
        assert.match(error.message, /set another "bind"/);
        return true;
      });
      assert.strictEqual(server.supervisor.pid, undefined, 'no process was started');
    } finally {
      holder.close();
    }
  });

  it('gunicorn is not installed in the interpreter', async () => {
    const { error } = await startFails({ python: oldUvicornPython, workers: 2 });
    assert.match(error.message, /gunicorn is not installed in the Python interpreter .*\.venv-uvicorn-0\.29\/bin\/python \(Python 3\.\d+\.\d+\)\. Install it with: .* -m pip install gunicorn/);
  });

  it('a package installed after a failed start is found by the next start (the cached check is made again)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-install-'));
    const installed = path.join(dir, 'installed');
    const python = path.join(dir, 'python');
    // Until `installed` exists, its version check says gunicorn is missing (as before `pip install gunicorn`).
    fs.writeFileSync(python, [
      '#!/bin/sh',
      `if [ ! -e "${installed}" ] && [ "$1" = "-E" ]; then`,
      '  echo \'SERVER_WORKERS_PROBE {"pythonVersion": "3.11.7", "packages": {"uvicorn": "0.54.0"}, "gunicornSettings": []}\'',
      '  exit 0',
      'fi',
      `exec "${testPython}" "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
    try {
      const { error } = await startFails({ python, workers: 1 });
      assert.match(error.message, /gunicorn is not installed in the Python interpreter/);
      fs.writeFileSync(installed, '');
      const server = await createServer({ python, workers: 1 });
      await server.supervisor.start();
      assert.strictEqual(server.supervisor.serverState, 'running');
      await stopAndCheck(server);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const kind of ['granian', 'hypercorn'] as const) {
    it(`${kind} is not installed in the interpreter: the error names its package (the Install action's) and nothing starts`, async () => {
      const server = await createServer({ server: kind, python: oldUvicornPython, workers: 2 });
      await assert.rejects(server.supervisor.start(), (error: Error) => {
        assert.ok(error instanceof ServerError);
        assert.strictEqual(error.reason, 'environment');
        assert.strictEqual(error.details.missingPackage, kind);
        assert.match(error.message, new RegExp(`^${kind} is not installed in the Python interpreter .*\\.venv-uvicorn-0\\.29/bin/python \\(Python 3\\.\\d+\\.\\d+\\)\\. Install it with: .* -m pip install ${kind}$`));
        return true;
      });
      assert.strictEqual(server.supervisor.pid, undefined, 'no process was started');
      await stopAndCheck(server);
    });

    it(`${kind}: the app fails at import in every worker: the worker's traceback, and nothing left running`, async () => {
      const { error, state } = await startFails({ server: kind, app: 'boot_fails:app', workers: 2 });
      assert.strictEqual(state, 'failed');
      assert.match(error.message, kind === 'hypercorn'
        ? /^The hypercorn master \(pid \d+\) exited with code \d+: hypercorn stops every worker and itself when one dies, and worker \d \(pid \d+\) exited with code 1\n/
        : /^Workers keep failing at boot \(\d exited before they were ready\)|Worker crash loop detected: a worker died again within seconds of its respawn/);
      assert.match(error.message, /A worker's last output:\nTraceback[^]*nonexistent_module_for_server_workers_tests/);
      assert.match(error.message, /boot_fails\.py", line 2/);
    });
  }

  it('the interpreter does not exist', async () => {
    const { error } = await startFails({ python: '/nonexistent/bin/python', workers: 2 });
    assert.match(error.message, /The Python interpreter "\/nonexistent\/bin\/python" could not be run \(no such file\)/);
  });

  it('the interpreter is not Python', async () => {
    const { error } = await startFails({ python: '/bin/true', workers: 2 });
    assert.match(error.message, /"\/bin\/true" could not be run \(it does not look like Python/);
  });

  it('the working directory does not exist', async () => {
    const { error } = await startFails({ cwd: '/nonexistent/folder', workers: 2 });
    assert.match(error.message, /The working directory "\/nonexistent\/folder" does not exist/);
  });

  it('an operation on a stopped server says why it cannot run', async () => {
    const server = await createServer({ workers: 2 });
    await assert.rejects(server.supervisor.scale(3), /Cannot scale the server ".*" while it is stopped/);
    await assert.rejects(server.supervisor.scale(0), /whole number from 1 to 64/);
  });
});
