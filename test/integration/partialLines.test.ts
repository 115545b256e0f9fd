/**
 * A line without its newline (a prompt, a progress message, print(..., end="")) is shown within 250 ms of its last
 * byte, for every server kind; when its rest comes, the rest continues it; nothing is lost or doubled.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import type { OutputEvent, SupervisorOptions } from '../../src/core/supervisor';
import { agentDir, testPython } from '../support/paths';
import { run } from './cliSupport';
import { createServer, eventually, freePort, get, stopAndCheck, type TestServer } from './support';

const SHOWN_WITHIN_MS = 250;

const kinds: Array<[string, Partial<ServerDefinition>, SupervisorOptions]> = [
  ['gunicorn + UvicornWorker', { app: 'escapes_app:app', workers: 2 }, { agentDir }],
  ['gunicorn sync (WSGI)', { app: 'escapes_app:wsgi', workers: 2, workerClass: 'sync' }, { agentDir }],
  // Uvicorn's access log line would follow the text at once, on the same line: the test writes alone.
  ['uvicorn --workers', { server: 'uvicorn', app: 'escapes_app:app', workers: 2, args: ['--no-access-log'] }, { agentDir }],
  ['uvicorn, one process (the master\'s pipe)', { server: 'uvicorn', app: 'escapes_app:app', workers: 1, args: ['--no-access-log'] }, { agentDir }],
  ['gunicorn without the agent (the master\'s pipe)', { app: 'escapes_app:app', workers: 1 }, {}],
  ['granian', { server: 'granian', app: 'escapes_app:app', workers: 2 }, { agentDir }],
  ['hypercorn', { server: 'hypercorn', app: 'escapes_app:app', workers: 2 }, { agentDir }],
];

function eventsWith(server: TestServer, text: string): OutputEvent[] {
  return server.output.filter((e) => e.lines.some((l) => l.includes(text)));
}

/** The text of the lines of `pid`'s stream from the event holding `start`, joined as a channel joins them. */
function joinedFrom(server: TestServer, start: OutputEvent): string {
  const after = server.output.slice(server.output.indexOf(start)).filter((e) => e.pid === start.pid && e.stream === start.stream && e.slot === start.slot);
  let text = '';
  for (const event of after) {
    event.lines.forEach((line, i) => (text += (i === 0 && event.continues ? '' : '\n') + line));
    if (!event.partial) break;
  }
  return text;
}

for (const [title, definition, options] of kinds) {
  describe(`partial lines: ${title}`, { timeout: 60000 }, () => {
    it(`shows a line without its newline within ${SHOWN_WITHIN_MS} ms, then its rest continues it, nothing lost or doubled`, async () => {
      const server = await createServer(definition, options);
      await server.supervisor.start();
      const tag = `Loading-${process.pid}-${Date.now()}`;
      const rest = encodeURIComponent(' done\nnext line\n');
      const { body } = await get(server.port, `/write?text=${encodeURIComponent(`${tag} ✓ step 1...`)}&rest=${rest}&after=800`);
      await eventually('the partial line to be shown', () => eventsWith(server, tag).length > 0, 5000);
      const shownAt = Date.now();
      const first = eventsWith(server, tag)[0];
      assert.ok(shownAt - (body.at as number) < SHOWN_WITHIN_MS, `shown ${Math.round(shownAt - (body.at as number))} ms after its last byte`);
      assert.strictEqual(first.partial, true, 'marked partial');
      assert.ok(first.lines[first.lines.length - 1].endsWith(`${tag} ✓ step 1...`));

      await eventually('the rest', () => server.output.some((e) => e.pid === first.pid && e.lines.includes('next line')), 5000);
      const joined = joinedFrom(server, first);
      assert.ok(joined.split('\n').includes(`${tag} ✓ step 1... done`), `the rest continues the same line: ${JSON.stringify(joined.slice(-80))}`);
      assert.strictEqual(server.output.flatMap((e) => e.lines).filter((l) => l.includes(tag)).length, 1, 'the text appears once');
      await stopAndCheck(server);
    });
  });
}

describe('partial lines in the CLI (--json)', { timeout: 60000 }, () => {
  it('marks a partial line and its continuation', async () => {
    const port = await freePort();
    const cli = run(['run', '--app', 'escapes_app:app', '--workers', '1', '--bind', `127.0.0.1:${port}`, '--python', testPython, '--json']);
    await cli.next((e) => e.event === 'started', 'the server to start');
    const { body } = await get(port, '/write?text=Progress%3A%2050%25&rest=%2C%20100%25%0A&after=500');
    const partial = await cli.next((e) => e.event === 'log' && e.line === 'Progress: 50%', 'the partial line', 5000);
    assert.ok(Date.now() - (body.at as number) < SHOWN_WITHIN_MS + 100, 'shown at once (the CLI is a process of its own: its stdout read adds a little)');
    assert.strictEqual(partial.partial, true);
    const rest = await cli.next((e) => e.event === 'log' && e.pid === partial.pid, 'the rest', 5000);
    assert.deepStrictEqual([rest.line, rest.continued, rest.partial], [', 100%', true, undefined]);
    cli.child.stdin!.end();
    assert.strictEqual(await cli.exit, 0);
  });
});
