/**
 * The CLI's --json stdin (dist/cli.js against a real server): a line that is JSON but not a command object gets an
 * error result, and the CLI goes on taking commands.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { isAlive } from '../../src/core/process/procfs';
import { testPython } from '../support/paths';
import { pidsIn, run } from './cliSupport';
import { freePort } from './support';

describe('server-workers run --json: stdin lines', { timeout: 90000 }, () => {
  it('null, 42, "x" and [] each get an error result, pdb input over 1 MiB too, and the next command is taken', async () => {
    const port = await freePort();
    const r = run(['run', '--app', 'echo_asgi:app', '--server', 'uvicorn', '--workers', '1', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--json']);
    await r.next((e) => e.event === 'started', 'started');
    for (const line of ['null', '42', '"x"', '[]']) {
      r.child.stdin!.write(`${line}\n`);
      const result = await r.next((e) => e.event === 'result', `the answer to ${line}`);
      assert.strictEqual(result.ok, false, line);
      assert.match(String(result.error), /^Not a command: .+ \(a command is a JSON object such as \{"cmd":"stop"\}\)\.$/, line);
    }
    r.child.stdin!.write(`${JSON.stringify({ cmd: 'input', text: 'x'.repeat(2 * 1024 * 1024) })}\n`);
    const tooLong = await r.next((e) => e.event === 'result' && e.cmd === 'input', 'the answer to 2 MiB of pdb input');
    assert.strictEqual(tooLong.ok, false);
    assert.match(String(tooLong.error), /^pdb takes at most 1 MiB of text at a time; this input has 2\.0 MiB and was not sent\./);
    r.child.stdin!.write('{"cmd":"scale","workers":2}\n');
    const scaled = await r.next((e) => e.event === 'result' && e.cmd === 'scale', 'the scale that follows', 60000);
    assert.strictEqual(scaled.ok, true, String(scaled.error));
    r.child.stdin!.write('{"cmd":"stop"}\n');
    assert.strictEqual(await r.exit, 0);
    assert.deepStrictEqual(pidsIn(r.events).filter(isAlive), [], 'no process of the server survives');
  });
});
