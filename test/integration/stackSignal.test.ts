/**
 * The signals faulthandler answers for the agent, when the app takes them (gunicorn sync, real workers): the stack
 * signal is checked where it is used, never claimed when the app's handler ran, and never sent when it would kill the
 * worker; an app's own faulthandler file keeps its dump at WORKER TIMEOUT.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ServerDefinition } from '../../src/core/definition';
import { isAlive } from '../../src/core/process/procfs';
import { hanging, lineOf, workerServing } from './insightSupport';
import { createServer, eventually, linesOf, stopAndCheck, type TestServer } from './support';

const SLEEP_LINES = [lineOf('signals_wsgi.py', '    hold_gil(hold)'), lineOf('signals_wsgi.py', '    time.sleep(then)')];
const TIMEOUT_LINE = lineOf('signals_wsgi.py', '    time.sleep(seconds)');
/** The handler's frame once the GIL is let go (the agent's thread may get it as the hold returns, or once it sleeps). */
const sleeping = new RegExp(`^\\s+File ".*signals_wsgi\\.py", line (${SLEEP_LINES.join('|')}) in hold_then_sleep$`);

async function withServer(definition: Partial<ServerDefinition>, body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await createServer({ app: 'signals_wsgi:app', workerClass: 'sync', workers: 1, gracefulTimeout: 1, ...definition });
  try {
    await server.supervisor.start();
    await body(server);
  } finally {
    await stopAndCheck(server);
  }
}

/** Show Stack on the worker while it holds the GIL for 6 s (longer than Show Stack waits for its agent), then sleeps in hold_then_sleep. */
async function stacksWhileHeld(server: TestServer): Promise<{ result: Awaited<ReturnType<TestServer['supervisor']['showStacks']>>; lines: string[]; pid: number }> {
  const request = hanging(server.port, '/hold?after=1.5&s=6&then=30');
  try {
    let slot = 0;
    await eventually('the worker serving /hold', () => (slot = workerServing(server.supervisor.model().workers, '/hold')?.slot ?? 0) > 0);
    const pid = server.supervisor.model().workers.find((w) => w.slot === slot)!.pid;
    await new Promise((resolve) => setTimeout(resolve, 1700)); // inside the hold (it starts 1.5 s in)
    const result = await server.supervisor.showStacks(slot);
    const lines = linesOf(server, slot);
    return { result, lines, pid };
  } finally {
    request.abort();
  }
}

describe('the stack signal is checked where it is used', { timeout: 180000 }, () => {
  it('the app set its own handler for it: not sent, the agent\'s thread writes the stacks once it can, and the answer says so', () => withServer({ env: { APP_STACK_SIGNAL: 'handler' } }, async (server) => {
    const { result, lines, pid } = await stacksWhileHeld(server);
    assert.strictEqual(result.via, 'agent', 'never "signal": the app\'s handler would have run instead of a dump');
    assert.strictEqual(result.signalTaken, true);
    assert.ok(lines.some((line) => /stack signal is taken by the app's own handler/.test(line)), 'a marker says the signal is taken');
    await eventually('the handler\'s frame in the stacks', () => linesOf(server, 1).some((line) => sleeping.test(line)), 10000)
      .catch((error: Error) => assert.fail(`${error.message}; the worker's lines: ${linesOf(server, 1).join('\n')}`));
    assert.ok(!linesOf(server, 1).some((line) => line.includes("the app's own handler for the stack signal ran")), 'the app\'s handler never ran');
    assert.ok(isAlive(pid));
  }));

  it('the app reset it to its default action from C (the agent cannot see it): /proc shows no handler, so it is not sent and the worker lives', () => withServer({ env: { APP_STACK_SIGNAL: 'c-default' } }, async (server) => {
    const { result, pid } = await stacksWhileHeld(server);
    assert.strictEqual(result.via, 'agent');
    assert.ok(isAlive(pid), 'the worker was not killed by the signal\'s default action');
    assert.strictEqual(server.supervisor.model().workers[0].pid, pid);
    await eventually('the handler\'s frame in the stacks', () => linesOf(server, 1).some((line) => sleeping.test(line)), 10000);
  }));
});

describe('an app\'s own faulthandler file', { timeout: 120000 }, () => {
  it('keeps its dump at WORKER TIMEOUT, and the worker\'s output has it too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-faults-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const faultFile = path.join(dir, 'faults.log');
    await withServer({ timeout: 3, env: { APP_FAULT_FILE: faultFile } }, async (server) => {
      const frame = new RegExp(`File ".*signals_wsgi\\.py", line ${TIMEOUT_LINE} in sleep_past_timeout`);
      const first = server.supervisor.model().workers[0].pid;
      const request = hanging(server.port, '/sleep?s=60');
      try {
        await eventually('the worker killed by its timeout and replaced', () => server.supervisor.model().workers.some((w) => w.pid !== first && w.state === 'ready'), 60000);
      } finally {
        request.abort();
      }
      await eventually('the stack in the worker\'s output', () => server.output.some((event) => event.pid === first && event.lines.some((line) => frame.test(line))), 10000);
      const written = fs.readFileSync(faultFile, 'utf8');
      assert.match(written, frame, `the app's file has the stack too: ${JSON.stringify(written.slice(0, 400))}`);
    });
  });
});
