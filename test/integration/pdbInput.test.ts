/**
 * What reaches pdb in a worker is text, all of it and nothing else (gunicorn + UvicornWorker): a line with U+2028 is
 * one line, a line that reads "\0detach" is a line like any other (a detach is a message of its own, never text),
 * and a message over the agent's limit is dropped as it arrives, said in pdb's output, and pdb goes on.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { PDB_INPUT_LIMIT, type PdbSession } from '../../src/core/agent/pdbSessions';
import type { AgentMessage } from '../../src/core/agent/agentServer';
import { request } from './pdbSupport';
import { createServer, eventually, stopAndCheck } from './support';

/** pdb's output of one session, and its prompts. */
function follow(session: PdbSession): { output: () => string; prompts: () => number } {
  let output = '';
  let prompts = 0;
  session.onOutput.on((text) => (output += text));
  session.onPrompt.on(() => prompts++);
  return { output: () => output, prompts: () => prompts };
}

describe('pdb input in a worker', { timeout: 120000 }, () => {
  it('U+2028 stays in its line, "\\0detach" is a line for pdb, a message over the limit is dropped and said', async () => {
    const server = await createServer({ app: 'pdb_asgi:app', workers: 1, timeout: 2 });
    const sessions: PdbSession[] = [];
    server.supervisor.onPdb.on((session) => sessions.push(session));
    try {
      await server.supervisor.start();
      const pausing = request(server.port, '/pause?v=7');
      await eventually('a pdb session', () => sessions.length > 0, 30000);
      const session = sessions[0];
      const seen = follow(session);
      await eventually('the first prompt', () => session.prompt !== undefined, 15000);

      /** Sends `text`; pdb's output up to its next prompt. */
      const command = async (text: string): Promise<string> => {
        const [prompts, from] = [seen.prompts(), seen.output().length];
        assert.ok(session.input(text), `the session takes ${JSON.stringify(text.slice(0, 40))}`);
        await eventually(`pdb's prompt after ${JSON.stringify(text.slice(0, 40))}`, () => seen.prompts() > prompts || session.end !== undefined, 30000);
        return seen.output().slice(from).replace(/\(Pdb\) $/, '');
      };

      assert.strictEqual((await command('p len("a\u2028b")\n')).trim(), '3', 'one line of 3 characters');
      const nul = await command('\u0000detach\n');
      assert.strictEqual(session.end, undefined, `the session goes on (pdb said: ${nul.trim()})`);
      assert.strictEqual(session.state, 'paused');

      // Past the supervisor's own limit, as a message that no view sends: the agent reads it in bounded memory.
      const size = 30 * 1024 * 1024;
      const [prompts, from] = [seen.prompts(), seen.output().length];
      (session as unknown as { connection: { send(message: AgentMessage): void } }).connection.send({ t: 'input', text: `p ${'x'.repeat(size)}\n` });
      await eventually('the agent to say it dropped the message', () => /a message of \d+ bytes for pdb was dropped \(the limit is 8388608\)/.test(seen.output().slice(from)), 30000);
      assert.strictEqual(seen.prompts(), prompts, 'no line reached pdb');
      assert.strictEqual((await command('p x\n')).trim(), "'value-7'", 'pdb still answers');
      assert.strictEqual(session.input(`p ${'y'.repeat(PDB_INPUT_LIMIT)}\n`), false, 'the supervisor refuses more than PDB_INPUT_LIMIT');

      session.input('c\n');
      assert.deepStrictEqual((await pausing).body, { pid: session.pid, y: 'VALUE-7' }, 'the worker continued');
    } finally {
      await stopAndCheck(server);
    }
  });
});
