/**
 * `server-workers mcp` over stdio, driven by the MCP SDK's own client, against real Gunicorn + UvicornWorker and
 * Uvicorn servers and real HTTP: start from flags and from a tasks.json, each worker's own lines, 10,000 lines by
 * polling, wait_for, a stuck worker's stack, a reload that fails and one that works, scale and kill against /proc,
 * and stdin closed: every process gone within 2 s.
 */
import * as assert from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, it } from 'node:test';
import { isAlive } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { cli } from './cliSupport';
import { hanging } from './insightSupport';
import { assertWorkersMatchProc, type Data, type LineData, type McpRun, pollLines, serverPids, startMcp, textOf, type WorkerData } from './mcpSupport';
import { reloadAppFolder, writeBrokenVersion, writeVersion } from './reloadSupport';
import { appsDir, eventually, freePort, get } from './support';

/** Requests /log?n=count until every worker has served one; returns the pids that printed. */
async function logFromEveryWorker(port: number, workers: number, count: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; pids.size < workers && i < 200; i++) pids.add((await get(port, `/log?n=${count}`)).body.pid as number);
  assert.strictEqual(pids.size, workers, 'every worker served a request');
  return pids;
}

/** Closes the client (stdin) and proves that every process of its servers is gone within 2 s. */
async function closeAndCheck(mcp: McpRun): Promise<void> {
  const pids = [...(await serverPids(mcp)), mcp.pid];
  const closed = Date.now();
  await mcp.close();
  await eventually('every process of the MCP server and its servers to be gone', () => pids.every((pid) => !isAlive(pid)), 2000);
  assert.ok(Date.now() - closed <= 2100, `gone within 2 s (${Date.now() - closed} ms)`);
  assert.ok(mcp.stderr.some((line) => line.includes('stdin closed: stopping')), `it stopped because stdin closed: ${mcp.stderr.join('\n')}`);
}

describe('server-workers mcp over stdio', { timeout: 300000 }, () => {
  it('Gunicorn + UvicornWorker from flags: each slot\'s own lines, 10,000 lines polled once each, wait_for, a stuck worker\'s stack, kill and scale against /proc', async () => {
    const mcp = await startMcp(appsDir);
    const port = await freePort();

    // A start that cannot boot: the error, the last lines of the master and of the failing worker, the file and line.
    const failed = await mcp.call('start_server', { name: 'broken', app: 'boot_fails:app', workers: 2, bind: `127.0.0.1:${port}`, python: testPython });
    assert.strictEqual(failed.isError, true);
    assert.match(textOf(failed), /^broken did not start: /);
    assert.match(textOf(failed), /The exception: ModuleNotFoundError: No module named 'nonexistent_module_for_server_workers_tests', at .*boot_fails\.py:2\./);
    assert.match(textOf(failed), /\nWorker \d+'s last lines:\n(.*\n)*\d+ w\d+ \d+ [\d:.]+Z \| ModuleNotFoundError/);
    assert.match(textOf(failed), /\nThe master's last lines:\n\d+ m \d+ /);
    assert.strictEqual((await serverPids(mcp)).length, 0, 'nothing of it runs');

    const started = await mcp.ok('start_server', { name: 'echo', app: 'echo_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, python: testPython });
    const server = started.server as { name: string; url: string; masterPid: number; workers: WorkerData[] };
    assert.deepStrictEqual([server.name, server.url, server.workers.length], ['echo', `http://127.0.0.1:${port}`, 2]);

    // Each slot's lines are its worker's own: every line carries that worker's pid, and its prints are all there.
    await logFromEveryWorker(port, 2, 20);
    for (const worker of server.workers) {
      // The answer can come before the worker's lines have been read: until its subprocess's line, written last.
      const lines = await pollLines(mcp, { slot: worker.slot }, 0, (seen) => seen.some((l) => l.text === `sub-${worker.pid}`), 15000);
      assert.ok(lines.every((l) => l.pid === worker.pid && l.slot === worker.slot), `slot ${worker.slot}: every line is pid ${worker.pid}'s`);
      const printed = new Set(lines.map((l) => /^print-(\d+)-(\d+)$/.exec(l.text)).filter((m) => m !== null).map((m) => `${m[1]}-${m[2]}`));
      assert.deepStrictEqual([...printed].sort(), Array.from({ length: 20 }, (_, i) => `${worker.pid}-${i}`).sort(), 'its prints, and no other worker\'s');
    }
    const master = (await mcp.ok('get_worker_logs', { slot: 0, since: 0, lines: 2000 })).lines as LineData[];
    assert.ok(master.every((l) => l.pid === server.masterPid) && master.some((l) => l.text.includes(`Listening at: http://127.0.0.1:${port}`)), 'slot 0 is the master\'s');

    // 10,000 lines of one worker, read by polling with the cursor: once each, in order.
    const { next } = await mcp.ok('get_worker_logs', { lines: 1 });
    const pid = (await get(port, '/log?n=5000&whole=1', 60000)).body.pid as number;
    const mine = (lines: LineData[]) => lines.filter((l) => l.pid === pid && /^(print|log)-\d+-\d+$/.test(l.text)).map((l) => l.text);
    const polled = await pollLines(mcp, {}, next as number, (lines) => lines.some((l) => l.text === `sub-${pid}`));
    const expected = [...Array.from({ length: 5000 }, (_, i) => `print-${pid}-${i}`), ...Array.from({ length: 5000 }, (_, i) => `log-${pid}-${i}`)];
    assert.deepStrictEqual(mine(polled), expected, '10,000 lines, each once, in order');
    assert.strictEqual(new Set(polled.map((l) => l.seq)).size, polled.length, 'no seq twice');

    // wait_for: a new line that matches (with its slot and pid), and a timeout that waits no longer than asked.
    const waiting = mcp.ok('wait_for', { pattern: '^print-\\d+-7$', timeoutS: 30 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const printer = (await get(port, '/log?n=10')).body.pid as number;
    const matched = await waiting;
    const line = matched.line as LineData;
    assert.deepStrictEqual([matched.outcome, matched.timedOut, line.text, line.pid], ['line', false, `print-${printer}-7`, printer]);
    assert.strictEqual(line.slot, server.workers.find((w) => w.pid === printer)!.slot);
    const timedOut = await mcp.ok('wait_for', { pattern: 'never printed', timeoutS: 1 });
    assert.deepStrictEqual([timedOut.outcome, timedOut.timedOut], ['timeout', true]);
    assert.ok((timedOut.waitedMs as number) >= 1000 && (timedOut.waitedMs as number) < 2500, `waited ${timedOut.waitedMs as number} ms`);

    // kill_worker, then list_servers: the replacement in the same slot, with a restart.
    const killed = await mcp.ok('kill_worker', { slot: 1 });
    const replacement = killed.replacement as WorkerData;
    assert.ok(replacement && replacement.pid !== killed.killedPid && !isAlive(killed.killedPid as number));
    const afterKill = await assertWorkersMatchProc(mcp, 'echo', 2);
    const slot1 = afterKill.find((w) => w.slot === 1)!;
    assert.deepStrictEqual([slot1.pid, slot1.restarts], [replacement.pid, 1]);
    await eventually('the worker-exited event', () => mcp.events.some((e) => e.event === 'worker-exited' && e.pid === killed.killedPid));

    // Scale 2 -> 4 -> 1: list_servers agrees with /proc each time.
    for (const count of [4, 1]) {
      assert.strictEqual(((await mcp.ok('scale_workers', { workers: count })).workers as WorkerData[]).length, count);
      await assertWorkersMatchProc(mcp, 'echo', count);
    }

    // A second server with a worker stuck in a handler: its stack names the handler's function.
    const stuckPort = await freePort();
    await mcp.ok('start_server', { name: 'stuck', app: 'insight_asgi:app', workers: 1, bind: `127.0.0.1:${stuckPort}`, python: testPython });
    assert.match(textOf(await mcp.call('get_worker_logs', {})), /2 servers are here .*say which one with "server"/);
    const request = hanging(stuckPort, '/block?s=30');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stack = await mcp.ok('get_worker_stack', { server: 'stuck', slot: 1 });
      assert.strictEqual(stack.via, 'agent');
      assert.match(stack.stack as string, /File ".*insight_asgi\.py", line \d+ in blocking_sleep/);
      assert.match(stack.stack as string, /GET \/block \(\d+\.\d s\)/, 'the request in flight, without its query string');
      assert.doesNotMatch(stack.stack as string, /s=30/);
    } finally {
      request.abort();
    }
    const stuckPids = await serverPids(mcp);
    const stopped = await mcp.ok('stop_server', { server: 'stuck' });
    assert.ok((stopped.pids as number[]).length === 2 && (stopped.pids as number[]).every((p) => !isAlive(p)));
    assert.strictEqual((await serverPids(mcp)).length, stuckPids.length - 2);
    await closeAndCheck(mcp);
  });

  it('Uvicorn from a tasks.json: each slot\'s own lines; a save that breaks the import fails the reload with its file and line while the old workers answer; kill, scale; stdin closed', async () => {
    const folder = reloadAppFolder();
    const port = await freePort();
    fs.mkdirSync(path.join(folder, '.vscode'));
    fs.writeFileSync(path.join(folder, '.vscode', 'tasks.json'), JSON.stringify({
      version: '2.0.0',
      // a comment-free tasks.json; the task's python and cwd as VS Code would take them
      tasks: [{ type: 'serverworkers', label: 'reload app', server: 'uvicorn', app: 'reload_asgi:app', workers: 2, bind: `127.0.0.1:${port}`, python: testPython, cwd: '${workspaceFolder}' }],
    }));
    const mcp = await startMcp(folder);
    const started = await mcp.ok('start_server', { task: 'reload app' });
    const server = started.server as { name: string; masterPid: number; workers: WorkerData[] };
    assert.deepStrictEqual([server.name, server.workers.length], ['reload app', 2]);
    for (const worker of server.workers) {
      const lines = (await mcp.ok('get_worker_logs', { server: 'reload app', slot: worker.slot, since: 0 })).lines as LineData[];
      assert.ok(lines.length > 0 && lines.every((l) => l.pid === worker.pid), `slot ${worker.slot}: every line is pid ${worker.pid}'s`);
      assert.ok(lines.some((l) => l.text.includes(`Started server process [${worker.pid}]`)));
    }

    const broken = writeBrokenVersion(folder);
    const failed = await mcp.ok('reload_server', {});
    assert.deepStrictEqual([failed.outcome, failed.file, failed.line], ['failed', broken, 1], JSON.stringify(failed));
    assert.match(failed.message as string, /SyntaxError/);
    assert.match(failed.details as string, /version\.py/);
    const oldPids = server.workers.map((w) => w.pid);
    for (let i = 0; i < 6; i++) {
      const { body } = await get(port, '/');
      assert.ok(body.text === 'v0' && oldPids.includes(body.pid as number), `the old workers answer: ${JSON.stringify(body)}`);
    }
    await eventually('the reload-failed event', () => mcp.events.some((e) => e.event === 'reload-failed' && e.file === broken && e.line === 1));
    writeVersion(folder, 'v1');
    const reloaded = await mcp.ok('reload_server', {});
    assert.strictEqual(reloaded.outcome, 'reloaded');
    assert.ok((reloaded.generation as number) >= 2);
    assert.strictEqual((await get(port, '/')).body.text, 'v1');

    const killed = await mcp.ok('kill_worker', { slot: 2 });
    const listed = await assertWorkersMatchProc(mcp, 'reload app', 2);
    assert.deepStrictEqual(listed.find((w) => w.slot === 2)?.restarts, 1);
    assert.notStrictEqual(listed.find((w) => w.slot === 2)?.pid, killed.killedPid);
    for (const count of [4, 1]) {
      await mcp.ok('scale_workers', { workers: count });
      await assertWorkersMatchProc(mcp, 'reload app', count);
    }
    await closeAndCheck(mcp);
  });

  it('1,000 malformed lines on stdin: it answers the next request, and stops its servers when stdin closes', async () => {
    const child = spawn(process.execPath, [cli, 'mcp'], { cwd: appsDir, stdio: ['pipe', 'pipe', 'pipe'] });
    const answers: Data[] = [];
    readline.createInterface({ input: child.stdout }).on('line', (line) => answers.push(JSON.parse(line) as Data));
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const garbage = ['not json', '{', '[]', '{"jsonrpc":"2.0"}', '{"jsonrpc":"1.0","id":1,"method":"tools/list"}', '"text"', '{"id":{},"method":7}', '\u0000\u00ff'];
    for (let i = 0; i < 1000; i++) child.stdin.write(`${garbage[i % garbage.length]}\n`);
    const send = (message: Data) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/call', params: { name: 'list_servers', arguments: {} } });
    await eventually('the answer to list_servers', () => answers.some((a) => a.id === 2), 10000);
    const listed = answers.find((a) => a.id === 2)!.result as Data;
    assert.deepStrictEqual(listed.structuredContent, { servers: [] });
    assert.ok(answers.every((a) => a.id === 1 || a.id === 2), `nothing answered the garbage as a request: ${JSON.stringify(answers.slice(0, 3))}`);
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin.end();
    assert.strictEqual(await exited, 0);
    assert.match(stderr.join(''), /stdin closed: stopping 0 server/);
  });
});
