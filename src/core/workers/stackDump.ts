/**
 * Show Stack for one worker: every thread's stack (and, in an asyncio worker, every pending task's) written into its
 * output after a marker line. Its agent does it; when the agent does not answer within STACKS_ANSWER_MS (its Python
 * holds the GIL in C code), the stack signal makes faulthandler do it from a signal handler.
 */
import type { AgentLink } from '../agent/agentLink';
import { ServerError } from '../errors';
import type { WorkerTable } from './workerTable';

/** How long Show Stack waits for the worker's agent before it sends the stack signal instead. */
export const STACKS_ANSWER_MS = 2000;

/** What Show Stack did: the agent wrote the stacks (threads and asyncio tasks), or the stack signal made faulthandler do it. */
export interface StacksResult {
  pid: number;
  via: 'agent' | 'signal';
  /** Pending asyncio tasks written (via the agent). */
  tasks?: number;
}

export async function dumpStacks(
  slot: number,
  table: WorkerTable,
  agent: AgentLink | undefined,
  marker: (slot: number, pid: number, line: string) => void,
): Promise<StacksResult> {
  const worker = table.inSlot(slot);
  if (!worker || worker.state === 'exited') throw new ServerError(`There is no running worker in slot ${slot}.`, 'state');
  const { pid } = worker;
  if (!agent) throw new ServerError(`Show Stack needs the agent in the workers, and it is off (serverWorkers.agent, or --no-agent).`, 'state');
  marker(slot, pid, `── stacks of worker ${slot} (pid ${pid}), most recent call first:`);
  const deadline = Date.now() + STACKS_ANSWER_MS;
  const reply = await agent.request(pid, { t: 'stacks', deadline }, STACKS_ANSWER_MS + 500)?.catch(() => undefined);
  if (reply?.t === 'stacks' && reply.late !== true) return { pid, via: 'agent', tasks: typeof reply.tasks === 'number' ? reply.tasks : 0 };
  const signal = agent.stackSignal(pid);
  if (signal === undefined || !table.has(pid)) {
    throw new ServerError(`Worker ${slot} (pid ${pid}) did not answer within ${STACKS_ANSWER_MS / 1000} s, and its agent registered no stack signal (the app uses it, or the worker is still starting). Try again, or look at its output for what it is doing.`, 'state');
  }
  marker(slot, pid, `── worker ${slot} did not answer within ${STACKS_ANSWER_MS / 1000} s (its Python holds the GIL, in C code?): its threads' stacks come from a signal (faulthandler); asyncio tasks cannot be listed`);
  process.kill(pid, signal);
  return { pid, via: 'signal' };
}
