/** `server-workers` (dist/cli.js) against real servers, for people and with --json. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isAlive, readProcStat } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { pidsIn, run } from './cliSupport';
import { appsDir, burst, freePort } from './support';

describe('server-workers run --json', { timeout: 120000 }, () => {
  it('reports start, workers, logs and stats, takes scale/kill/reload on stdin, and stops on EOF leaving nothing', async () => {
    const port = await freePort();
    const r = run(['run', '--app', 'echo_asgi:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--graceful-timeout', '3', '--json']);
    const started = await r.next((e) => e.event === 'started', 'started');
    assert.strictEqual(typeof started.masterPid, 'number');
    assert.strictEqual((started.workers as unknown[]).length, 2);

    const served = await burst(port, '/log?n=1', 20, 4);
    for (const pid of served.keys()) {
      const log = await r.any((e) => e.event === 'log' && e.line === `print-${pid}-0`, `a log line of ${pid}`);
      assert.strictEqual(log.pid, pid);
      assert.ok((log.slot as number) >= 1);
      assert.strictEqual(log.stream, 'output');
    }
    await r.next((e) => e.event === 'stats' && Array.isArray(e.workers), 'a stats event');

    r.child.stdin!.write('{"cmd":"scale","workers":3}\n');
    const scaled = await r.next((e) => e.event === 'result' && e.cmd === 'scale', 'scale result');
    assert.strictEqual(scaled.ok, true, String(scaled.error));
    assert.strictEqual((scaled.workers as unknown[]).length, 3);

    r.child.stdin!.write('{"cmd":"kill","slot":1}\n');
    const exited = await r.next((e) => e.event === 'worker-exit' && e.slot === 1, 'worker 1 exit');
    assert.match(String(exited.reason), /SIGKILL/);
    const killed = await r.next((e) => e.event === 'result' && e.cmd === 'kill', 'kill result');
    assert.strictEqual(killed.ok, true, String(killed.error));

    r.child.stdin!.write('{"cmd":"reload"}\n');
    assert.strictEqual((await r.next((e) => e.event === 'result' && e.cmd === 'reload', 'reload result', 60000)).ok, true);

    r.child.stdin!.write('{"cmd":"jump"}\nnot json\n');
    assert.match(String((await r.next((e) => e.event === 'result' && e.ok === false, 'an error result')).error), /Unknown command "jump"/);
    assert.match(String((await r.next((e) => e.event === 'result' && e.ok === false, 'a second error result')).error), /Not a JSON command/);

    r.child.stdin!.end();
    await r.next((e) => e.event === 'stopped', 'stopped');
    assert.strictEqual(await r.exit, 0);
    const survivors = pidsIn(r.events).filter(isAlive);
    assert.deepStrictEqual(survivors, [], 'no process of the server survives');
  });

  it('says when each master starts, with its pid: at the start and after a scale that restarts the server; reloads (hypercorn)', async () => {
    const port = await freePort();
    const r = run(['run', '--server', 'hypercorn', '--app', 'echo_asgi:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--graceful-timeout', '3', '--json']);
    const first = await r.next((e) => e.event === 'master-start', 'the first master-start');
    const started = await r.next((e) => e.event === 'started', 'started');
    assert.strictEqual(first.pid, started.masterPid);
    const firstIndex = r.events.indexOf(first);
    assert.ok(r.events.findIndex((e) => e.event === 'worker-up') > firstIndex, 'the master-start comes before its workers');

    r.child.stdin!.write('{"cmd":"scale","workers":3}\n');
    await r.next((e) => e.event === 'master-exit' && e.expected === true, 'the first master\'s exit', 60000);
    const second = await r.next((e) => e.event === 'master-start', 'the new master\'s master-start', 60000);
    const scaled = await r.next((e) => e.event === 'result' && e.cmd === 'scale', 'scale result', 60000);
    assert.strictEqual(scaled.ok, true, String(scaled.error));
    assert.strictEqual(typeof second.pid, 'number');
    assert.notStrictEqual(second.pid, first.pid);
    assert.ok(!isAlive(first.pid as number), 'the first master is gone');
    const workers = scaled.workers as Array<{ pid: number }>;
    assert.strictEqual(workers.length, 3);
    for (const { pid } of workers) assert.strictEqual(readProcStat(pid)?.ppid, second.pid, `worker ${pid} is the new master's child`);
    const stats = await r.next((e) => e.event === 'stats' && e.state === 'running', 'a stats event after the scale');
    assert.strictEqual((stats.master as { pid: number }).pid, second.pid);

    // Hypercorn 0.18 reloads by SIGHUP (the same master); 0.17, the newest for Python 3.9, has no SIGHUP handler and
    // restarts (a new master): either way the reload succeeds and the server serves.
    r.child.stdin!.write('{"cmd":"reload"}\n');
    const reloaded = await r.next((e) => e.event === 'result' && e.cmd === 'reload', 'reload result', 60000);
    assert.strictEqual(reloaded.ok, true, String(reloaded.error));
    await r.next((e) => e.event === 'stats' && e.state === 'running' && (e.workers as unknown[]).length === 3, 'the server serving after the reload');

    r.child.stdin!.end();
    await r.next((e) => e.event === 'stopped', 'stopped');
    assert.strictEqual(await r.exit, 0);
    assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), [], 'no process of the server survives');
  });

  it('runs a serverworkers task from .vscode/tasks.json', async () => {
    const port = await freePort();
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-cli-'));
    fs.mkdirSync(path.join(folder, '.vscode'));
    fs.writeFileSync(path.join(folder, '.vscode', 'tasks.json'), JSON.stringify({
      version: '2.0.0',
      tasks: [{ label: 'api', type: 'serverworkers', app: 'echo_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, cwd: appsDir, python: testPython }],
    }));
    const r = run(['run', '--task', 'api', '--json'], folder);
    const started = await r.next((e) => e.event === 'started', 'started');
    assert.strictEqual((started.workers as unknown[]).length, 2);
    r.child.stdin!.write('{"cmd":"stop"}\n');
    assert.strictEqual(await r.exit, 0);
    assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), []);

    const missing = run(['run', '--task', 'nope', '--json'], folder);
    assert.strictEqual(await missing.exit, 2);
    assert.match(String(missing.events[0].message), /No serverworkers task named "nope" .* \(serverworkers tasks there: "api"\)/);
    fs.rmSync(folder, { recursive: true });
  });

  it('ends a failed start with an error event and exit code 1', async () => {
    const r = run(['run', '--app', 'echo_asgi:app', '--python', '/nonexistent/python', '--json']);
    assert.strictEqual(await r.exit, 1);
    const error = r.events.find((e) => e.event === 'error')!;
    assert.match(String(error.message), /"\/nonexistent\/python" could not be run/);
  });
});

describe('server-workers run, for people', { timeout: 60000 }, () => {
  it('prefixes each line with its source and stops on SIGINT leaving nothing', async () => {
    const port = await freePort();
    const r = run(['run', '--app', 'echo_asgi:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--graceful-timeout', '3']);
    const deadline = Date.now() + 30000;
    while (!r.lines.some((l) => /workers ready at http/.test(l))) {
      assert.ok(Date.now() < deadline, `no ready line: ${r.lines.join('\n')} ${r.stderr.join('\n')}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const served = await burst(port, '/log?n=1', 10, 2);
    const pid = [...served.keys()][0];
    const eventually = Date.now() + 5000;
    while (!r.lines.some((l) => l.endsWith(`| print-${pid}-0`))) {
      assert.ok(Date.now() < eventually, 'the print line arrives');
      await new Promise((res) => setTimeout(res, 50));
    }
    const line = r.lines.find((l) => l.endsWith(`| print-${pid}-0`))!;
    assert.match(line, /^worker\.\d+ +\| print-/);
    assert.ok(r.lines.some((l) => /^master +\| .*Listening at/.test(l)), 'master lines are prefixed "master"');
    const masterPid = Number(/Listening at: \S+ \((\d+)\)/.exec(r.lines.find((l) => l.includes('Listening at'))!)![1]);
    r.child.kill('SIGINT');
    assert.strictEqual(await r.exit, 0);
    for (const p of [masterPid, ...served.keys()]) assert.ok(!isAlive(p), `process ${p} is gone`);
  });

  it('rejects invalid options with exit code 2 and says what is wrong', async () => {
    const bad = run(['run', '--app', 'main', '--workers', '0']);
    assert.strictEqual(await bad.exit, 2);
    assert.match(bad.stderr.join('\n'), /"app" must look like module:attribute/);
    assert.match(bad.stderr.join('\n'), /"workers" must be a whole number from 1 to 64 \(got 0\)/);
    const unknown = run(['serve']);
    assert.strictEqual(await unknown.exit, 2);
    assert.match(unknown.stderr.join('\n'), /unknown command "serve"/);
    assert.match(unknown.stderr.join('\n'), /^ {2}run {7}run a multi-worker.*\n {2}export {4}write a task's production.*\n {2}mcp {7}serve the agent tools/m, 'it lists the commands');
    const help = run(['--help']);
    const closed = new Promise((resolve) => help.child.once('close', resolve)); // its output read to the end
    assert.strictEqual(await help.exit, 0);
    await closed;
    assert.match(help.lines.join('\n'), /^Usage: server-workers COMMAND/);
    assert.match(help.lines.join('\n'), /^ {2}export {4}write a task's production/m);
  });
});
