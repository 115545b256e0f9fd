/** wait_for: until a new log line matches, or the server reaches a state, or the timeout; never longer. */
import type { ServerModel } from '../core/model';
import type { Supervisor } from '../core/supervisor';
import { compilePattern, GREP_DEADLINE_MS, grepLines, type Pattern } from './boundedRegex';
import { LINES_SCHEMA, logLine } from './logs';
import { findServer, SERVER_FIELD } from './target';
import { type AgentTool, OUTPUT_IS_DATA, ToolError } from './types';

const DEFAULT_TIMEOUT_S = 30;
const MAX_TIMEOUT_S = 300;
/** Lines that arrive together are searched together: a flood is searched in batches, not line by line. */
const BATCH_MS = 25;
const STATES = ['ready', 'starting', 'running', 'scaling', 'reloading', 'restarting', 'stopping', 'stopped', 'failed'] as const;
type WantedState = (typeof STATES)[number];

/** `ready`: running, every worker of the wanted count ready, no reload under way. */
function reached(model: ServerModel, state: WantedState): boolean {
  if (state !== 'ready') return model.state === state;
  return model.state === 'running' && model.workers.length === model.desiredWorkers && model.workers.every((w) => w.state === 'ready') && model.incoming.length === 0 && model.retiring.length === 0;
}

type Outcome = { kind: 'line'; seq: number } | { kind: 'state' } | { kind: 'ended' } | { kind: 'timeout' } | { kind: 'slow'; afterMs: number } | { kind: 'cancelled' };

/** The wait: wakes on the server's output and changes, searches the new lines, settles once. */
async function waitOn(supervisor: Supervisor, pattern: Pattern | undefined, state: WantedState | undefined, from: number, timeoutMs: number, signal: AbortSignal): Promise<{ outcome: Outcome; cursor: number }> {
  const history = supervisor.lines;
  const deadline = Date.now() + timeoutMs;
  let cursor = from;
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  const offOutput = supervisor.onOutput.on(poke);
  const offChange = supervisor.onDidChange.on(poke);
  signal.addEventListener('abort', poke);
  try {
    for (;;) {
      if (state && reached(supervisor.model(), state)) return { outcome: { kind: 'state' }, cursor };
      if (pattern) {
        const lines = history.read({ since: cursor, limit: 10000, maxBytes: 1024 * 1024 });
        if (lines.length > 0) {
          const found = await grepLines(pattern, lines.map((l) => l.text), { wanted: 1, deadlineMs: Math.min(GREP_DEADLINE_MS, Math.max(1, deadline - Date.now())) });
          if (found.matches.length > 0) return { outcome: { kind: 'line', seq: lines[found.matches[0]].seq }, cursor: lines[found.matches[0]].seq };
          if (found.stopped) return { outcome: { kind: 'slow', afterMs: found.stopped.afterMs }, cursor };
          cursor = lines[lines.length - 1].seq;
          if (lines.length === 10000) continue;
        }
      }
      if (signal.aborted) return { outcome: { kind: 'cancelled' }, cursor };
      const left = deadline - Date.now();
      if (left <= 0) return { outcome: { kind: 'timeout' }, cursor };
      const model = supervisor.model();
      if ((model.state === 'stopped' || model.state === 'failed') && !(state && reached(model, state))) return { outcome: { kind: 'ended' }, cursor };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          wake = undefined;
          clearTimeout(timer);
          setTimeout(resolve, BATCH_MS);
        };
      });
    }
  } finally {
    offOutput();
    offChange();
    signal.removeEventListener('abort', poke);
  }
}

export const waitFor: AgentTool = {
  name: 'wait_for',
  title: 'Wait for',
  userDescription: 'Waits until a server logs a matching line or reaches a state, for at most a given time.',
  description: 'Waits until a new line of a server\'s output (any stream) matches pattern, or until the server reaches state (ready: running with every worker ready, e.g. after a reload or a restart), whichever comes first; returns at once when the state is reached already. Returns the line (with its slot and pid), or timedOut: true after timeoutS (default 30, at most 300) — it never waits longer. since: a cursor from get_worker_logs, to also match lines that came since then. ' + OUTPUT_IS_DATA,
  readOnly: true,
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      server: SERVER_FIELD,
      pattern: { type: 'string', minLength: 1, maxLength: 1000, description: 'A JavaScript regular expression a new line must match ((?i) at its start ignores case).' },
      state: { type: 'string', enum: STATES, description: 'The state to wait for; ready = running with every worker ready.' },
      timeoutS: { type: 'number', minimum: 0, maximum: MAX_TIMEOUT_S, description: `How long to wait at most, in seconds (default ${DEFAULT_TIMEOUT_S}, at most ${MAX_TIMEOUT_S}).` },
      since: { type: 'integer', minimum: 0, description: 'Match lines after this cursor (a get_worker_logs next) too, not only new ones.' },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['server', 'outcome', 'timedOut', 'state', 'waitedMs', 'next'],
    properties: {
      server: { type: 'string' },
      outcome: { type: 'string', enum: ['line', 'state', 'timeout', 'server-ended', 'pattern-too-slow', 'cancelled'] },
      timedOut: { type: 'boolean' },
      line: (LINES_SCHEMA.items as AgentTool['outputSchema']),
      state: { type: 'string', description: 'The server\'s state when the wait ended.' },
      waitedMs: { type: 'integer' },
      next: { type: 'integer', description: 'A cursor: the lines searched end here (get_worker_logs since).' },
    },
  },
  async run(input, host, signal) {
    const supervisor = findServer(host, input.server);
    if (input.pattern === undefined && input.state === undefined) {
      throw new ToolError('wait_for needs a pattern (a regular expression a new log line must match), a state (such as "ready"), or both.');
    }
    const pattern = typeof input.pattern === 'string' ? compilePattern('pattern', input.pattern) : undefined;
    const since = input.since as number | undefined;
    if (since !== undefined && since > supervisor.lines.lastSeq) {
      throw new ToolError(`since ${since} is past the newest line of ${supervisor.name} (${supervisor.lines.lastSeq}): give a cursor of this server, or leave since out.`);
    }
    const started = Date.now();
    const timeoutMs = ((input.timeoutS as number | undefined) ?? DEFAULT_TIMEOUT_S) * 1000;
    const { outcome, cursor } = await waitOn(supervisor, pattern, input.state as WantedState | undefined, since ?? supervisor.lines.lastSeq, timeoutMs, signal);
    const model = supervisor.model();
    const data: Record<string, unknown> = {
      server: supervisor.name,
      outcome: { line: 'line', state: 'state', timeout: 'timeout', ended: 'server-ended', slow: 'pattern-too-slow', cancelled: 'cancelled' }[outcome.kind],
      timedOut: outcome.kind === 'timeout',
      state: model.state,
      waitedMs: Date.now() - started,
      next: cursor,
    };
    let text: string;
    if (outcome.kind === 'line') {
      const [stored] = supervisor.lines.read({ since: outcome.seq - 1, limit: 1, maxBytes: 4096 });
      const line = logLine(supervisor.lines, stored);
      data.line = line;
      text = `Line ${line.seq} of ${line.slot === 0 ? 'the master' : `worker ${line.slot}`} (pid ${line.pid}) matched: ${line.text}\n${OUTPUT_IS_DATA}`;
    } else if (outcome.kind === 'state') {
      text = `${supervisor.name} is ${input.state as string} (after ${data.waitedMs as number} ms).`;
    } else if (outcome.kind === 'timeout') {
      text = `timedOut: nothing matched within ${timeoutMs / 1000} s; ${supervisor.name} is ${model.state}.`;
    } else if (outcome.kind === 'slow') {
      text = `The pattern was stopped after ${outcome.afterMs} ms on the new lines (it backtracks): give a simpler pattern.`;
    } else {
      text = outcome.kind === 'cancelled' ? 'The wait was cancelled.' : `${supervisor.name} is ${model.state}: it will log nothing more.${model.error ? ` ${model.error.split('\n')[0]}` : ''}`;
    }
    return { text, data };
  },
};
