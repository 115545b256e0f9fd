/**
 * Show Stack for one worker: every thread's stack (and, in an asyncio worker, every pending task's; in a gevent or
 * eventlet worker, every greenlet's) written into its output after a marker line. Its agent does it; when the agent
 * does not answer within STACKS_ANSWER_MS (its Python holds the GIL in C code), the stack signal makes faulthandler do
 * it from a signal handler, if the signal is still the agent's: checked where it is used (the agent says when the app
 * took it; /proc says whether it still has a handler), and the dump must arrive for the answer to say so. When the
 * signal cannot be used, the agent's thread is waited for longer instead.
 */
import type { AgentLink } from '../agent/agentLink';
import { ServerError } from '../errors';
import type { WorkerStreams } from '../output/workerStreams';
import type { WorkerTable } from './workerTable';

/** How long Show Stack waits for the worker's agent before it sends the stack signal instead. */
export const STACKS_ANSWER_MS = 2000;
/** How long it waits for the agent's thread when the stack signal cannot be used. */
export const STACKS_FALLBACK_MS = 15000;
/** How long the dump the stack signal makes may take to arrive in the worker's output. */
const SIGNAL_DUMP_MS = 3000;

/** What Show Stack did: the agent wrote the stacks (threads, asyncio tasks, greenlets), or the stack signal made faulthandler do it. */
export interface StacksResult {
  pid: number;
  via: 'agent' | 'signal';
  /** Pending asyncio tasks written (via the agent). */
  tasks?: number;
  /** Greenlets written (via the agent, in a gevent or eventlet worker). */
  greenlets?: number;
  /** The app took the stack signal (its own handler): only the agent's thread could write the stacks. */
  signalTaken?: true;
}

export interface StackDumpContext {
  table: WorkerTable;
  agent: AgentLink | undefined;
  /** The workers' output: faulthandler's dump must show there. */
  streams: WorkerStreams;
  marker: (slot: number, pid: number, line: string) => void;
}

export async function dumpStacks(slot: number, context: StackDumpContext): Promise<StacksResult> {
  const { table, agent, marker } = context;
  const worker = table.inSlot(slot);
  if (!worker || worker.state === 'exited') throw new ServerError(`There is no running worker in slot ${slot}.`, 'state');
  const { pid } = worker;
  if (!agent) throw new ServerError(`Show Stack needs the agent in the workers, and it is off (serverWorkers.agent, or --no-agent).`, 'state');
  marker(slot, pid, `── stacks of worker ${slot} (pid ${pid}), most recent call first:`);
  const taken = agent.stackSignal(pid)?.taken === true;
  if (taken) marker(slot, pid, `── worker ${slot}'s stack signal is taken by the app's own handler: its agent's thread writes the stacks (it needs the GIL; waiting up to ${STACKS_FALLBACK_MS / 1000} s)`);
  const answered = await askAgent(agent, pid, taken ? STACKS_FALLBACK_MS : STACKS_ANSWER_MS);
  if (answered) return { ...answered, ...(taken ? { signalTaken: true } : {}) };
  if (!table.has(pid)) throw new ServerError(`Worker ${slot} (pid ${pid}) exited before it wrote its stacks.`, 'state');
  if (taken) {
    throw new ServerError(`Worker ${slot} (pid ${pid}) did not answer within ${STACKS_FALLBACK_MS / 1000} s, and the app took its stack signal (a handler of its own), so nothing else can make it write its stacks. Try again, or look at its output for what it is doing.`, 'state');
  }
  const signal = agent.usableStackSignal(pid);
  if (signal === undefined) {
    const registered = agent.stackSignal(pid) !== undefined;
    if (registered) {
      // It had a handler when registered and has none now (the app reset it): sending it would kill the worker.
      marker(slot, pid, `── worker ${slot}'s stack signal has no handler any more: its agent's thread writes the stacks (it needs the GIL; waiting up to ${STACKS_FALLBACK_MS / 1000} s)`);
      const late = await askAgent(agent, pid, STACKS_FALLBACK_MS);
      if (late) return late;
    }
    const why = registered ? 'its stack signal has no handler any more (the app reset it: sending it would kill the worker)' : 'its agent registered no stack signal (the app uses it, or the worker is still starting)';
    throw new ServerError(`Worker ${slot} (pid ${pid}) did not answer, and ${why}. Try again, or look at its output for what it is doing.`, 'state');
  }
  marker(slot, pid, `── worker ${slot} did not answer within ${STACKS_ANSWER_MS / 1000} s (its Python holds the GIL, in C code?): its threads' stacks come from a signal (faulthandler); asyncio tasks and greenlets cannot be listed`);
  process.kill(pid, signal);
  if (await context.streams.awaitLine(pid, isThreadStackHeader, SIGNAL_DUMP_MS)) return { pid, via: 'signal' };
  throw new ServerError(`Worker ${slot} (pid ${pid}) was sent its stack signal but wrote no stacks within ${SIGNAL_DUMP_MS / 1000} s: something else handles that signal now (the app?). Try again once its Python runs, or look at its output for what it is doing.`, 'state');
}

/** faulthandler's first line for each thread: `Current thread 0x… (most recent call first):` or `Thread 0x… (…):`. */
export function isThreadStackHeader(line: string): boolean {
  return /^(Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):$/.test(line);
}

async function askAgent(agent: AgentLink, pid: number, waitMs: number): Promise<StacksResult | undefined> {
  const reply = await agent.request(pid, { t: 'stacks', deadline: Date.now() + waitMs }, waitMs + 500)?.catch(() => undefined);
  if (reply?.t !== 'stacks' || reply.late === true) return undefined;
  const count = (value: unknown) => (typeof value === 'number' ? value : 0);
  return { pid, via: 'agent', tasks: count(reply.tasks), ...(count(reply.greenlets) > 0 ? { greenlets: count(reply.greenlets) } : {}) };
}
