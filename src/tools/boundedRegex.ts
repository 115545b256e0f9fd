/**
 * A regular expression from an agent, run where it cannot hang anything: in a worker thread, with a deadline. A
 * pattern that backtracks (`(a+)+$` against a long line of `a`s that ends otherwise) would hold the extension host's
 * or the MCP server's event loop for minutes; here the thread is terminated at the deadline (V8 stops a running
 * regular expression for it). The thread notes in shared memory which line it tests and which matched, so the
 * answer says exactly how far the search got and which line stopped it.
 */
import { Worker } from 'node:worker_threads';
import { ToolError } from './types';

/** How long one search may run. */
export const GREP_DEADLINE_MS = 2000;
/** An idle thread ends after this long (it holds a few MB). */
const IDLE_MS = 30000;

export interface Pattern {
  source: string;
  flags: string;
}

export interface GrepOutcome {
  /** Indexes of the matching lines, in the order searched. */
  matches: number[];
  /** How many lines were searched to the end (from the start, or from the end with `fromEnd`). */
  searched: number;
  /** The deadline stopped the search: after this long, in the line at this index. */
  stopped?: { afterMs: number; index: number };
  /** The search failed (the expression threw: too deep a recursion, say). */
  error?: string;
}

/** A pattern checked to compile; a leading `(?i)` (as in Python) means ignore case. */
export function compilePattern(field: string, pattern: string): Pattern {
  const ignoreCase = pattern.startsWith('(?i)');
  const source = ignoreCase ? pattern.slice(4) : pattern;
  const flags = ignoreCase ? 'i' : '';
  try {
    new RegExp(source, flags);
  } catch (error) {
    throw new ToolError(`"${field}" is not a valid regular expression: ${(error as Error).message}. It takes a JavaScript regular expression, such as "Traceback|ERROR" or "(?i)timeout".`);
  }
  return { source, flags };
}

// shared[0]: the position (in search order) being tested; shared[1]: matches so far; shared[2..]: their indexes.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, source, flags, lines, fromEnd, wanted, shared }) => {
  const re = new RegExp(source, flags);
  const n = lines.length;
  for (let k = 0; k < n; k++) {
    Atomics.store(shared, 0, k);
    const i = fromEnd ? n - 1 - k : k;
    let found;
    try {
      found = re.test(lines[i]);
    } catch (error) {
      return parentPort.postMessage({ id, error: String(error && error.message) });
    }
    if (found) {
      const count = shared[1];
      shared[2 + count] = i;
      Atomics.store(shared, 1, count + 1);
      if (count + 1 >= wanted) return parentPort.postMessage({ id });
    }
  }
  Atomics.store(shared, 0, n);
  parentPort.postMessage({ id });
});`;

let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let queue: Promise<unknown> = Promise.resolve();
let nextId = 1;

/**
 * Searches `lines` (from the end with `fromEnd`) until `wanted` lines match, or until the deadline. Searches run one
 * at a time, each with its own deadline.
 */
export function grepLines(pattern: Pattern, lines: readonly string[], options: { fromEnd?: boolean; wanted?: number; deadlineMs?: number } = {}): Promise<GrepOutcome> {
  const run = queue.then(() => search(pattern, lines, options));
  queue = run.catch(() => undefined);
  return run;
}

function search(pattern: Pattern, lines: readonly string[], { fromEnd = false, wanted = Number.MAX_SAFE_INTEGER, deadlineMs = GREP_DEADLINE_MS }): Promise<GrepOutcome> {
  if (lines.length === 0) return Promise.resolve({ matches: [], searched: 0 });
  clearTimeout(idleTimer);
  const thread = (worker ??= startWorker());
  const id = nextId++;
  const started = Date.now();
  const wantedHere = Math.min(wanted, lines.length);
  const shared = new Int32Array(new SharedArrayBuffer(4 * (2 + wantedHere)));
  return new Promise((resolve) => {
    const finish = (reply: { error?: string } | 'deadline') => {
      clearTimeout(deadline);
      thread.off('message', onMessage);
      thread.off('error', onError);
      const tested = Atomics.load(shared, 0);
      const outcome: GrepOutcome = { matches: [...shared.subarray(2, 2 + Atomics.load(shared, 1))], searched: tested };
      if (reply === 'deadline' || reply.error !== undefined) {
        if (reply === 'deadline') outcome.stopped = { afterMs: Date.now() - started, index: fromEnd ? lines.length - 1 - tested : tested };
        else outcome.error = reply.error;
        if (worker === thread) worker = undefined;
        void thread.terminate();
      } else {
        if (outcome.matches.length >= wantedHere) outcome.searched = tested + 1;
        idleTimer = setTimeout(() => stopWorker(thread), IDLE_MS);
        idleTimer.unref();
      }
      resolve(outcome);
    };
    const onMessage = (reply: { id: number; error?: string }) => {
      if (reply.id === id) finish(reply);
    };
    const onError = (error: Error) => finish({ error: error.message });
    const deadline = setTimeout(() => finish('deadline'), deadlineMs);
    thread.on('message', onMessage);
    thread.on('error', onError);
    thread.postMessage({ id, source: pattern.source, flags: pattern.flags, lines, fromEnd, wanted: wantedHere, shared });
  });
}

function startWorker(): Worker {
  const thread = new Worker(WORKER_SOURCE, { eval: true });
  thread.unref();
  thread.on('error', () => undefined); // a search that is running reports it; an idle thread's error ends it
  return thread;
}

function stopWorker(thread: Worker): void {
  if (worker === thread) worker = undefined;
  void thread.terminate();
}
