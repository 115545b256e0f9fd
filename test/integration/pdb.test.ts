/**
 * pdb in a worker (docs/agent-protocol.md, "pdb"), through `server-workers run --json` against real servers: a request
 * hits breakpoint(); the `pdb` event names the file and line; pdb answers `p` and `n`; the paused worker outlives
 * Gunicorn's 2 s --timeout and Uvicorn's 5 s health check while the other workers answer; `c` completes the response.
 * Before Python 3.13 pdb stops on the line after breakpoint(); from 3.13 on breakpoint() itself (pdbStopsOnTheCall).
 */
import * as assert from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isAlive } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { pidsIn, run } from './cliSupport';
import {
  type Answer, type CliEvent, enteredPdb, eventAfter, lineOf, pdbCommand, pdbLeave, pdbLines, pdbStopsOnTheCall, request, settled, sleep, startCli,
  stopCli,
} from './pdbSupport';
import { appsDir, eventually, freePort } from './support';

/** Longer than the servers' timeouts: Gunicorn `--timeout 2`, Uvicorn's 5 s health check. */
const HOLD_MS = 6500;

const kinds: Array<[string, string[], string, string, string]> = [
  ['gunicorn + UvicornWorker (an async handler)', ['--app', 'pdb_asgi:app', '--timeout', '2'], 'pdb_asgi.py', '    y = x.upper()', 'body = {"pid": pid, "y": y}'],
  ['gunicorn sync (Flask)', ['--app', 'pdb_flask:app', '--worker-class', 'sync', '--timeout', '2'], 'pdb_flask.py', '    y = x.upper()', 'body = {"pid": me, "y": y}'],
  ['uvicorn --workers', ['--server', 'uvicorn', '--app', 'pdb_asgi:app'], 'pdb_asgi.py', '    y = x.upper()', 'body = {"pid": pid, "y": y}'],
];

for (const [title, flags, appFile, afterBreakpoint, nextLine] of kinds) {
  describe(`breakpoint() in a request: ${title}`, { timeout: 120000 }, () => {
    it('pdb names the file and line, prints a local, steps, holds the worker past the timeouts while the others serve, and `c` completes the response', async () => {
      const { r, port } = await startCli(flags, 3);
      const pausing = request(port, '/pause?v=7');
      const { event: pdb } = await enteredPdb(r, 0, 'the pdb event');
      const slot = pdb.slot as number;
      const pausedPid = pdb.pid as number;
      assert.strictEqual(pdb.file, path.join(appsDir, appFile), 'the pdb event names the file');
      if (await pdbStopsOnTheCall()) {
        assert.strictEqual(pdb.line, lineOf(appFile, afterBreakpoint) - 1, 'and the line (breakpoint() itself, on Python 3.13+)');
        const past = await pdbCommand(r, slot, 'n');
        assert.ok(past.includes(`-> ${afterBreakpoint.trim()}`), `\`n\` steps past breakpoint(): ${JSON.stringify(past)}`);
      } else {
        assert.strictEqual(pdb.line, lineOf(appFile, afterBreakpoint), 'and the line (the one after breakpoint())');
      }
      const pausedAt = Date.now();

      assert.deepStrictEqual(await pdbCommand(r, slot, 'p x'), ["'value-7'"], '`p x` prints the local');
      const stepped = await pdbCommand(r, slot, 'n');
      assert.ok(stepped.includes(`-> ${nextLine}`), `\`n\` steps to the next line: ${JSON.stringify(stepped)}`);
      assert.deepStrictEqual(await pdbCommand(r, slot, 'p y'), ["'VALUE-7'"]);

      // Meanwhile: the others answer, and the paused worker is neither killed nor replaced.
      const during: Answer[] = [];
      while (Date.now() - pausedAt < HOLD_MS) {
        during.push(...(await Promise.all([request(port, '/pid', 3000), request(port, '/pid', 3000)])));
        await sleep(200);
      }
      const answered = during.filter((a) => a.body !== undefined);
      assert.ok(answered.length >= 10, `the other workers answered while one was in pdb (${answered.length} of ${during.length})`);
      assert.ok(answered.every((a) => a.body!.pid !== pausedPid), 'no answer came from the paused worker');
      assert.ok(isAlive(pausedPid), 'the paused worker is alive');
      assert.ok(!r.events.some((e) => e.event === 'worker-exit'), 'no worker exited');
      assert.ok(!r.events.some((e) => typeof e.line === 'string' && /WORKER TIMEOUT|died/.test(e.line)), 'no WORKER TIMEOUT, no dead worker');
      const { event: stats } = await eventAfter(r, r.events.length, (e) => e.event === 'stats', 'a stats event');
      const row = (stats.workers as CliEvent[]).find((w) => w.slot === slot)!;
      assert.strictEqual(row.pid, pausedPid, 'its slot still holds the paused worker');
      assert.deepStrictEqual(row.pdb, { file: pdb.file, line: lineOf(appFile, nextLine) }, 'the model says it is in pdb, where');
      assert.ok(!(await settled(pausing)), 'the paused request waits');

      const end = await pdbLeave(r, slot, 'c');
      assert.strictEqual(end.reason, 'continued');
      assert.deepStrictEqual(await pausing, { status: 200, body: { pid: pausedPid, y: 'VALUE-7' } }, '`c` lets the response complete');
      await stopCli(r);
    });
  });
}

describe('two workers in pdb at once (gunicorn + UvicornWorker)', { timeout: 120000 }, () => {
  it('each is driven separately: its own lines, its own prompt, its own continue', async () => {
    const { r, port } = await startCli(['--app', 'pdb_asgi:app', '--timeout', '2'], 3);
    const first = request(port, '/pause?v=1');
    const { event: a } = await enteredPdb(r, 0, 'the first worker in pdb');
    // Sent once the first is in pdb: a worker blocked in pdb accepts nothing more, so another takes this one.
    const second = request(port, '/pause?v=2');
    const { event: b, prompt } = await enteredPdb(r, r.events.indexOf(a) + 1, 'the second worker in pdb');
    assert.notStrictEqual(b.slot, a.slot, 'two workers');
    const [slotA, slotB] = [a.slot as number, b.slot as number];

    const from = prompt + 1;
    assert.deepStrictEqual(await pdbCommand(r, slotB, 'p x'), ["'value-2'"]);
    assert.deepStrictEqual(await pdbCommand(r, slotA, 'p x'), ["'value-1'"]);
    assert.deepStrictEqual(pdbLines(r, slotA, from).filter((l) => l.includes('value')), ["'value-1'"], 'worker A shows only its own output');

    const unknownSlot = [1, 2, 3].find((s) => s !== slotA && s !== slotB)!;
    const before = r.events.length;
    r.child.stdin!.write(`${JSON.stringify({ cmd: 'input', slot: unknownSlot, text: 'p x\n' })}\n`);
    const refused = await eventAfter(r, before, (e) => e.event === 'result' && e.cmd === 'input', 'the refused input');
    assert.deepStrictEqual([refused.event.ok, refused.event.error], [false, `Worker ${unknownSlot} is not in pdb.`]);

    assert.strictEqual((await pdbLeave(r, slotB)).reason, 'continued');
    assert.deepStrictEqual(await second, { status: 200, body: { pid: b.pid, y: 'VALUE-2' } });
    assert.ok(!(await settled(first)), 'worker A still waits in pdb');
    assert.deepStrictEqual(await pdbCommand(r, slotA, 'p x.upper()'), ["'VALUE-1'"], 'and still answers');
    assert.strictEqual((await pdbLeave(r, slotA)).reason, 'continued');
    assert.deepStrictEqual(await first, { status: 200, body: { pid: a.pid, y: 'VALUE-1' } });
    await stopCli(r);
  });
});

describe('breakpoint() at module level, before the workers are ready (gunicorn + UvicornWorker)', { timeout: 120000 }, () => {
  it('every booting worker stops in pdb, outlives the timeout, and the start completes once they continue', async () => {
    const { r } = await startCli(['--app', 'pdb_asgi:app', '--timeout', '2'], 2, { ...process.env, PDB_AT_IMPORT: '1' }, false);
    const one = await enteredPdb(r, 0, 'a first worker in pdb at import', 60000);
    const two = await enteredPdb(r, r.events.indexOf(one.event) + 1, 'a second worker in pdb at import', 60000);
    // The line after breakpoint(), or breakpoint() itself on Python 3.13+.
    const line = lineOf('pdb_asgi.py', 'imported = booting.title()') - ((await pdbStopsOnTheCall()) ? 1 : 0);
    for (const { event } of [one, two]) {
      assert.deepStrictEqual([event.file, event.line, event.function], [path.join(appsDir, 'pdb_asgi.py'), line, '<module>']);
    }
    assert.deepStrictEqual([one.event.slot, two.event.slot].sort(), [1, 2]);
    await sleep(3500); // past Gunicorn's --timeout 2
    assert.ok(!r.events.some((e) => e.event === 'started' || e.event === 'worker-exit'), 'not started yet, and nobody was killed');
    assert.deepStrictEqual(await pdbCommand(r, 1, 'p booting'), ["'module level'"]);
    for (const slot of [1, 2]) assert.strictEqual((await pdbLeave(r, slot)).reason, 'continued');
    const started = await eventAfter(r, 0, (e) => e.event === 'started', 'the start to complete', 60000);
    assert.strictEqual((started.event.workers as unknown[]).length, 2);
    await stopCli(r);
  });
});

describe('uvicorn with one worker (the master serves)', { timeout: 60000 }, () => {
  it('breakpoint() in the master that serves opens pdb for worker 1', async () => {
    const { r, port, started } = await startCli(['--server', 'uvicorn', '--app', 'pdb_asgi:app'], 1);
    const pausing = request(port, '/pause?v=9');
    const { event } = await enteredPdb(r, 0, 'the pdb event');
    assert.deepStrictEqual([event.slot, event.pid], [1, started!.masterPid]);
    assert.deepStrictEqual(await pdbCommand(r, 1, 'p x'), ["'value-9'"]);
    await pdbLeave(r, 1);
    assert.deepStrictEqual((await pausing).body, { pid: started!.masterPid, y: 'VALUE-9' });
    await stopCli(r);
  });
});

describe('PYTHONBREAKPOINT', { timeout: 90000 }, () => {
  it('0: breakpoint() does not pause; a hook of the user\'s own runs as Python runs it', async () => {
    const off = await startCli(['--app', 'pdb_asgi:app'], 2, { ...process.env, PYTHONBREAKPOINT: '0' });
    assert.strictEqual((await request(off.port, '/pause?v=3', 10000)).body?.y, 'VALUE-3', 'answered at once');
    assert.ok(!off.r.events.some((e) => e.event === 'pdb'), 'no pdb');
    await stopCli(off.r);

    const own = await startCli(['--app', 'pdb_asgi:app'], 2, { ...process.env, PYTHONBREAKPOINT: 'custom_breakpoint.hook' });
    const answer = await request(own.port, '/hook', 10000);
    const pid = answer.body?.pid as number;
    assert.ok(pid > 0, JSON.stringify(answer));
    // Called from the handler itself, as Python's own hook calls it (not through a wrapper of the agent's).
    await eventAfter(own.r, 0, (e) => e.event === 'log' && e.line === `custom-hook-${pid} called from app`, 'the user\'s hook line');
    assert.ok(!own.r.events.some((e) => e.event === 'pdb'), 'no pdb');
    await stopCli(own.r);
  });
});

describe('server-workers run, for people', { timeout: 90000 }, () => {
  it('announces a worker in pdb, shows its prompt and output with its prefix, and sends typed lines to it (":slot N" picks)', async () => {
    const port = await freePort();
    const r = run(['run', '--app', 'pdb_asgi:app', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--graceful-timeout', '5']);
    const line = (pattern: RegExp, what: string) => eventually(what, () => r.lines.some((l) => pattern.test(l)), 30000).then(() => r.lines.find((l) => pattern.test(l))!);
    await line(/workers ready at http/, 'the ready line');
    const pausing = request(port, '/pause?v=4');
    const announced = await line(/^sw +\| worker (\d) \(pid \d+\) is in pdb at .*pdb_asgi\.py:\d+; lines you type go to it$/, 'the announcement');
    const slot = Number(/worker (\d)/.exec(announced)![1]);
    const prefix = `worker.${slot}`.padEnd(9) + '| ';
    const stoppedAt = (await pdbStopsOnTheCall()) ? 'breakpoint()' : 'y = x.upper()';
    await line(new RegExp(`^${escape(prefix)}-> ${escape(stoppedAt)}$`), 'where pdb stopped, with the worker\'s prefix');
    r.child.stdin!.write('p x\n');
    // stdin is a pipe here (nothing echoes what is typed): the prompt's line ends before the next output.
    await line(new RegExp(`^${escape(prefix)}\\(Pdb\\) $`), 'the prompt with its prefix');
    await line(new RegExp(`^${escape(prefix)}'value-4'$`), 'the answer with its prefix');
    const other = slot === 1 ? 2 : 1;
    r.child.stdin!.write(`:slot ${other}\n`);
    await line(new RegExp(`^sw +\\| worker ${other} is not in pdb \\(in pdb: worker ${slot}\\)$`), 'the refused :slot');
    r.child.stdin!.write(`:slot ${slot}\nc\n`);
    await line(new RegExp(`^sw +\\| lines you type go to the pdb of worker ${slot}$`), 'the chosen slot');
    await line(new RegExp(`^sw +\\| worker ${slot} \\(pid \\d+\\) left pdb: it continued$`), 'the end');
    assert.strictEqual((await pausing).body?.y, 'VALUE-4');
    r.child.kill('SIGINT');
    assert.strictEqual(await r.exit, 0);
    assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), []);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
