/**
 * get_worker_stack: what Show Stack writes into a worker's output (every thread's stack, each pending asyncio task's),
 * read back from the server's history: the lines of that worker's pid after the stacks' heading, until its output is
 * quiet (the stacks come on the worker's data connection, the agent's reply on its control connection).
 */
import type { HistoryLine } from '../core/history/lineHistory';
import { delay } from '../core/process/masterProcess';
import { ANSWER_BYTES, LINE_BYTES } from './logs';
import { findServer, findWorker, SERVER_FIELD, WORKER_SLOT_FIELD } from './target';
import { type AgentTool, OUTPUT_IS_DATA } from './types';

/** The stacks are complete once the worker's output has been quiet this long, or after STACK_WAIT_MS. */
const QUIET_MS = 300;
const STACK_WAIT_MS = 5000;
const HEADING = '── stacks of worker';

export const getWorkerStack: AgentTool = {
  name: 'get_worker_stack',
  title: 'Get worker stack',
  userDescription: 'Shows what a worker is doing now: every thread\'s stack and each pending asyncio task.',
  description: 'What a worker is doing now, also when it is stuck: every thread\'s Python stack (most recent call first) and, in an asyncio worker, each pending task\'s, with the requests it is serving, as text. Read from the worker by the Server Workers agent (or, when its Python holds the GIL in C code, by a signal; then without tasks). ' + OUTPUT_IS_DATA,
  readOnly: true,
  inputSchema: { type: 'object', additionalProperties: false, required: ['slot'], properties: { server: SERVER_FIELD, slot: WORKER_SLOT_FIELD } },
  outputSchema: {
    type: 'object',
    required: ['server', 'slot', 'pid', 'via', 'stack'],
    properties: {
      server: { type: 'string' }, slot: { type: 'integer' }, pid: { type: 'integer' },
      via: { type: 'string', enum: ['agent', 'signal'], description: 'agent: threads and tasks; signal: the threads, from faulthandler.' },
      tasks: { type: 'integer', description: 'Pending asyncio tasks written.' },
      stack: { type: 'string' },
    },
  },
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    const slot = input.slot as number;
    findWorker(supervisor, slot);
    const history = supervisor.lines;
    const before = history.lastSeq;
    const result = await supervisor.showStacks(slot);
    const lines = await stackLines(() => history.read({ slots: [slot], since: before, limit: 100000, maxBytes: LINE_BYTES }), result.pid);
    let stack = '';
    for (const line of lines) {
      if (stack.length + line.text.length + 1 > ANSWER_BYTES) {
        stack += '… (cut: the stacks go on in the worker\'s output)\n';
        break;
      }
      stack += `${line.text}\n`;
    }
    const data: Record<string, unknown> = { server: supervisor.name, slot, pid: result.pid, via: result.via, stack };
    if (result.tasks !== undefined) data.tasks = result.tasks;
    return { text: `Stacks of worker ${slot} of ${supervisor.name} (pid ${result.pid}, via ${result.via}):\n${stack}${OUTPUT_IS_DATA}`, data };
  },
};

/** The worker's lines from the stacks' heading on, once they have stopped coming. */
async function stackLines(read: () => HistoryLine[], pid: number): Promise<HistoryLine[]> {
  const deadline = Date.now() + STACK_WAIT_MS;
  let count = -1;
  for (;;) {
    const lines = read().filter((line) => line.pid === pid);
    const at = lines.findIndex((line) => line.marker && line.text.startsWith(HEADING));
    const seen = at < 0 ? [] : lines.slice(at + 1);
    // A stack has begun (a heading of faulthandler's, "Thread 0x..." or "Current thread") and nothing came since.
    const begun = seen.some((line) => /^(Thread 0x|Current thread|Stack \(most recent call first\)|Requests in flight)/.test(line.text));
    if ((begun && seen.length === count) || Date.now() > deadline) return seen.filter((line) => !line.marker);
    count = seen.length;
    await delay(QUIET_MS);
  }
}
