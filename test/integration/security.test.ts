/**
 * What the security review found (issue: "the debugger reachable by its user only, and eight bugs"): each test
 * reproduces one finding and fails without its fix.
 */
import * as assert from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { detectEnvironment } from '../../src/core/pythonEnvironment';
import { isAlive, processGroupMembers } from '../../src/core/process/procfs';
import { listRuntimeDirs, ownerOf, sweepAbandonedRuntimeDirs } from '../../src/core/process/runtimeDirs';
import { canSwitchUsers, copyReadable, createOtherUser, folderOthersCanReach, nodeOthersCanRun, type OtherUser } from '../support/otherUser';
import { repoRoot, testPython } from '../support/paths';
import { cli, pidsIn, run } from './cliSupport';
import { appsDir, createServer, eventually, freePort, portFree, stopAndCheck } from './support';

function environOf(pid: number): Record<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

function scratchFolder(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('the agent socket trusts no claim', { timeout: 60000 }, () => {
  it('a hello with the token that claims a pid outside the server is dropped: the supervisor never signals that process', async () => {
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    after(() => bystander.kill('SIGKILL'));
    const server = await createServer({ workers: 2 });
    await server.supervisor.start();
    const { SERVER_WORKERS_SOCKET: socketPath, SERVER_WORKERS_TOKEN: token } = environOf(server.supervisor.pid!);
    assert.ok(socketPath && token, 'the master has the agent\'s socket and token');
    const claims: net.Socket[] = [];
    for (const channel of ['control', 'data']) {
      const socket = net.connect(socketPath);
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`${JSON.stringify({ token, channel, role: 'worker', pid: bystander.pid, ppid: server.supervisor.pid })}\n`);
      claims.push(socket);
    }
    const closed = await Promise.all(claims.map((socket) => new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    })));
    for (const socket of claims) socket.destroy();
    const model = server.supervisor.model();
    assert.ok(!model.workers.some((w) => w.pid === bystander.pid), 'the claimed pid got no slot');
    assert.strictEqual(model.workers.length, 2);
    assert.deepStrictEqual(closed, [true, true], 'the supervisor closed both connections');
    await stopAndCheck(server);
    assert.ok(isAlive(bystander.pid!), 'the process the hello named is alive after the stop');
  });
});

describe('the CLI runs tasks.json safely', { timeout: 90000 }, () => {
  it('a workspace folder whose name holds JSON cannot add to the task; one with a quote runs', async () => {
    const parent = scratchFolder('sw-folder-');
    const marker = path.join(parent, 'INJECTED');
    for (const name of [`w","preLaunch":[["touch","${marker}"]],"cwd":"..`, 'a"b']) {
      const folder = path.join(parent, name);
      fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
      const port = await freePort();
      fs.writeFileSync(path.join(folder, '.vscode', 'tasks.json'), JSON.stringify({
        version: '2.0.0',
        tasks: [{ label: 'api', type: 'serverworkers', app: 'echo_asgi:app', workers: 1, bind: `127.0.0.1:${port}`, cwd: appsDir, python: testPython, env: { WHERE: '${workspaceFolder}' } }],
      }));
      const r = run(['run', '--task', 'api', '--json'], folder);
      await r.next((e) => e.event === 'started', `the task in folder ${JSON.stringify(name)} starts`);
      r.child.stdin!.write('{"cmd":"stop"}\n');
      assert.strictEqual(await r.exit, 0);
      assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), []);
    }
    assert.ok(!fs.existsSync(marker), 'no command from the folder name ran');
  });

  it('--cwd with a relative path is the folder it names, from where the CLI runs', async () => {
    const port = await freePort();
    const r = run(['run', '--cwd', path.relative(repoRoot, appsDir), '--app', 'echo_asgi:app', '--workers', '1', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--json'], repoRoot);
    await r.next((e) => e.event === 'started', 'started');
    r.child.stdin!.end();
    assert.strictEqual(await r.exit, 0);
  });
});

describe('nothing survives a killed supervisor, with the agent off', { timeout: 60000 }, () => {
  it('the master goes with its supervisor (parent-death signal), the port is free, and its folder is swept', async () => {
    const port = await freePort();
    const r = run(['run', '--app', 'echo_asgi:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--no-agent', '--graceful-timeout', '3', '--json']);
    const started = await r.next((e) => e.event === 'started', 'started');
    const masterPid = started.masterPid as number;
    const pids = [masterPid, ...(started.workers as Array<{ pid: number }>).map((w) => w.pid)];
    assert.strictEqual(pids.length, 3);
    const folders = listRuntimeDirs().filter((dir) => ownerOf(dir)?.pid === r.child.pid);
    assert.strictEqual(folders.length, 1, 'the run made one runtime folder');
    r.child.kill('SIGKILL');
    await eventually('every process of the server to be gone', () => pids.every((p) => !isAlive(p)) && processGroupMembers(masterPid).length === 0, 5000);
    assert.ok(await portFree(port), 'the port is free again');
    assert.ok(fs.existsSync(folders[0]), 'a SIGKILLed supervisor cannot remove its folder');
    const removed = await sweepAbandonedRuntimeDirs(0);
    assert.ok(removed.includes(folders[0]), 'the next supervisor sweeps it, though it has no agent socket');
  });
});

describe('an interpreter that does not answer as Python does', { timeout: 60000 }, () => {
  function fakeInterpreter(name: string, script: string): string {
    const file = path.join(scratchFolder(`sw-${name}-`), 'python');
    fs.writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return file;
  }

  for (const [title, script] of [
    ['prints garbage', 'echo "SERVER_WORKERS_PROBE this is not json"'],
    ['answers null', 'echo "SERVER_WORKERS_PROBE null"'],
    ['answers an object of the wrong shape', 'echo \'SERVER_WORKERS_PROBE {"pythonVersion": 3, "packages": null}\''],
  ]) {
    it(`${title}: the CLI ends with a clear error naming the interpreter (no stack trace), nothing left`, async () => {
      const python = fakeInterpreter('garbage', script);
      const r = run(['run', '--app', 'echo_asgi:app', '--workers', '1', '--bind', `127.0.0.1:${await freePort()}`, '--python', python, '--json']);
      assert.strictEqual(await r.exit, 1, `exit code 1 (stderr: ${r.stderr.join('\n')})`);
      const error = r.events.find((e) => e.event === 'error');
      assert.ok(error, 'an error event');
      assert.match(String(error.message), new RegExp(`The Python interpreter "${python}" could not be run \\(it does not look like Python`));
      assert.deepStrictEqual(r.stderr.filter((l) => /^\s+at /.test(l)), [], 'no stack trace');
    });
  }

  it('hangs: it is stopped after the timeout with whatever it started, and the error does not quote the probe', async () => {
    const pidFile = path.join(scratchFolder('sw-hang-pid-'), 'child.pid');
    const python = fakeInterpreter('hang', `sleep 300 &\necho $! > ${pidFile}\nwait`);
    await assert.rejects(detectEnvironment(python, { timeoutMs: 1500 }), (error: Error) => {
      assert.match(error.message, new RegExp(`"${python}" could not be run \\(it did not answer within 1\\.5 s and was stopped\\)`));
      assert.doesNotMatch(error.message, /import json|SERVER_WORKERS_PROBE/, 'the probe script is not quoted');
      return true;
    });
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    await eventually(`the interpreter's child ${child} to be gone`, () => !isAlive(child), 3000);
  });
});

describe('a long TMPDIR', { timeout: 60000 }, () => {
  it('the runtime folder goes to /tmp, where its sockets fit: the server starts, nothing is left in TMPDIR', async () => {
    const longTmp = path.join(scratchFolder('sw-long-'), 'x'.repeat(90));
    fs.mkdirSync(longTmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = longTmp;
    try {
      const server = await createServer({ workers: 2 }, undefined);
      await server.supervisor.start();
      assert.strictEqual(server.supervisor.model().workers.filter((w) => w.state === 'ready').length, 2);
      const master = server.supervisor.pid!;
      assert.ok(environOf(master).SERVER_WORKERS_SOCKET.startsWith('/tmp/server-workers-'), 'the agent socket is under /tmp');
      await stopAndCheck(server);
      assert.deepStrictEqual(fs.readdirSync(longTmp), [], 'nothing was left in the long TMPDIR');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});

describe('bad values say what is wrong before anything runs', { timeout: 60000 }, () => {
  it('a NUL byte, or a 200 KB value, in env, args or python: exit code 2 naming the property', async () => {
    // Through tasks.json: a command line cannot carry either to the CLI itself.
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ env: { A: 'x\0y' } }, /"env\.A" contains a NUL byte/],
      [{ env: { BIG: 'x'.repeat(200_000) } }, /"env\.BIG" is 200004 bytes long; a single argument or environment variable can be at most 131071 bytes/],
      [{ python: `/usr/bin/python3${'x'.repeat(5000)}` }, /"python" is \d+ bytes long; a path can be at most 4095 bytes/],
      [{ args: ['a\0b'] }, /"args\[0\]" contains a NUL byte/],
    ];
    const folder = scratchFolder('sw-values-');
    fs.mkdirSync(path.join(folder, '.vscode'));
    for (const [values, message] of cases) {
      fs.writeFileSync(path.join(folder, '.vscode', 'tasks.json'), JSON.stringify({ version: '2.0.0', tasks: [{ label: 'api', type: 'serverworkers', app: 'echo_asgi:app', workers: 1, cwd: appsDir, ...values }] }));
      const r = run(['run', '--task', 'api', '--json'], folder);
      assert.strictEqual(await r.exit, 2, `exit code 2 for ${JSON.stringify(Object.keys(values))}`);
      assert.match(String(r.events[0]?.message), message);
    }
  });

  it('any spelling of the any-address is warned about as exposure', async () => {
    for (const bind of ['0:PORT', '[::0]:PORT', '[0000:0000:0000:0000:0000:0000:0000:0000]:PORT']) {
      const port = await freePort();
      const r = run(['run', '--app', 'echo_asgi:app', '--workers', '1', '--bind', bind.replace('PORT', String(port)), '--python', testPython, '--json']);
      const warning = await r.next((e) => e.event === 'warning', `the warning for ${bind}`);
      assert.match(String(warning.message), /listens on all interfaces .*other machines on your network can reach it/);
      r.child.stdin!.end();
      assert.strictEqual(await r.exit, 0);
    }
  });

  it('a port below 1024 as a user without the privilege: says so at once', { skip: canSwitchUsers ? false : 'needs root, to run as a second uid' }, async () => {
    const user: OtherUser = createOtherUser();
    // The CLI, the app's folder and the Node that runs them where the second user can read them, wherever this
    // checkout and this Node are.
    const place = folderOthersCanReach('sw-user-');
    after(() => {
      user.remove();
      fs.rmSync(place, { recursive: true, force: true });
    });
    copyReadable(repoRoot, [path.relative(repoRoot, cli), 'python'], place);
    const node = nodeOthersCanRun(place);
    const folder = path.join(place, 'app');
    fs.mkdirSync(folder, { mode: 0o755 });
    const startedAt = Date.now();
    const result = await user.run([node, path.join(place, path.relative(repoRoot, cli)), 'run', '--app', 'main:app', '--bind', '127.0.0.1:80', '--python', '/usr/bin/python3', '--cwd', folder, '--json']);
    const events = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const error = events.find((e) => e.event === 'error');
    assert.strictEqual(result.code, 1, `exit code 1: ${result.stdout} ${result.stderr}`);
    assert.strictEqual(error?.reason, 'port');
    assert.match(String(error?.message), /Port 80 on 127\.0\.0\.1 needs privileges this user does not have: ports below 1024/);
    assert.ok(Date.now() - startedAt < 5000, 'at once, not after a server retried the bind');
  });
});
