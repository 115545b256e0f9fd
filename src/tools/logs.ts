/** get_worker_logs: a server's lines from its history, by cursor, filtered by a pattern, bounded for the model. */
import type { HistoryLine, LineHistory, LostLines } from '../core/history/lineHistory';
import type { Supervisor } from '../core/supervisor';
import { compilePattern, type GrepOutcome, grepLines } from './boundedRegex';
import { findServer, SERVER_FIELD } from './target';
import { type AgentTool, type JsonSchema, OUTPUT_IS_DATA, ToolError } from './types';

/**
 * An answer's text stays under this many bytes (about 16,000 tokens of a model's context); the lines past it come with
 * the next cursor (`more`). That is about 500 lines of an ordinary log (~100 bytes a line with its seq, worker, pid and
 * time); the default of 100 lines is about 13 KB.
 */
export const ANSWER_BYTES = 64 * 1024;
/** A longer line is cut, with a marker that says its length. */
export const LINE_BYTES = 4096;
/** What a pattern searches of a line, and of all lines together. */
const GREP_LINE_BYTES = 1024 * 1024;
const GREP_TOTAL_BYTES = 16 * 1024 * 1024;
export const MAX_LINES = 2000;

export interface LogLine {
  seq: number;
  slot: number;
  pid: number;
  time: string;
  text: string;
  marker?: true;
  /** The line has no newline yet: it comes again, whole and with a new seq, once it ends. */
  partial?: true;
  /** The line was cut to LINE_BYTES: its whole length. */
  bytes?: number;
}

/** A line for the model: `4513 w1 1234 12:00:01.123Z | text` (the master is `m`). */
export function formatLine(line: LogLine): string {
  const cut = line.bytes === undefined ? '' : ` … [cut: the line has ${line.bytes} bytes]`;
  return `${line.seq} ${line.slot === 0 ? 'm' : `w${line.slot}`} ${line.pid} ${line.time.slice(11)} | ${line.text}${cut}${line.partial ? ' [no newline yet]' : ''}`;
}

/** The line for the model: its text cut to LINE_BYTES (at a character's start), marked when it has no newline yet. */
export function logLine(history: LineHistory, line: HistoryLine): LogLine {
  let { text, textBytes } = line;
  if (textBytes > LINE_BYTES) {
    const bytes = Buffer.from(text);
    let end = LINE_BYTES;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
    text = bytes.toString('utf8', 0, end);
    textBytes = end;
  }
  const out: LogLine = { seq: line.seq, slot: line.slot, pid: line.pid, time: isoTime(line.time), text };
  if (line.marker) out.marker = true;
  if (line.bytes > textBytes) out.bytes = line.bytes;
  const tail = history.stream(line.slot);
  if (tail?.endsOpen && tail.lastSeq === line.seq) out.partial = true;
  return out;
}

/** The lines of one read mostly share their time (they came in one event): each ISO string is made once. */
let lastTime = NaN;
let lastIso = '';
function isoTime(time: number): string {
  if (time !== lastTime) {
    lastTime = time;
    lastIso = new Date(time).toISOString();
  }
  return lastIso;
}

/**
 * The lines for the model, as many as fit in ANSWER_BYTES (the oldest, or the newest `fromEnd`), each with its text
 * line; `cut`: not all fit.
 */
export function withinBudget(history: LineHistory, lines: readonly HistoryLine[], fromEnd: boolean): { lines: LogLine[]; formatted: string[]; cut: boolean } {
  const out: LogLine[] = [];
  const formatted: string[] = [];
  let bytes = 0;
  let cut = false;
  for (let k = 0; k < lines.length; k++) {
    const line = logLine(history, lines[fromEnd ? lines.length - 1 - k : k]);
    const text = formatLine(line);
    bytes += Buffer.byteLength(text) + 1;
    if (bytes > ANSWER_BYTES && out.length > 0) {
      cut = true;
      break;
    }
    out.push(line);
    formatted.push(text);
  }
  return fromEnd ? { lines: out.reverse(), formatted: formatted.reverse(), cut } : { lines: out, formatted, cut };
}

/** The slots a request reads: one (checked to exist), or all. */
function slotsOf(supervisor: Supervisor, slot: unknown): number[] | undefined {
  if (typeof slot !== 'number') return undefined;
  const known = new Set([0, ...supervisor.lines.slots(), ...supervisor.model().workers.map((w) => w.slot)]);
  if (!known.has(slot)) {
    const list = [...known].sort((a, b) => a - b).map((s) => (s === 0 ? '0 (the master)' : String(s))).join(', ');
    throw new ToolError(`${supervisor.name} has no stream in slot ${slot}. Its streams: ${list}. Leave slot out to read every stream.`);
  }
  return [slot];
}

interface Searched {
  lines: HistoryLine[];
  /** With a cursor, where the next call goes on: after the last line searched (or the line that stopped the search). */
  next?: number;
  outcome: GrepOutcome;
  candidates: HistoryLine[];
  /** GREP_TOTAL_BYTES of lines were read: there are more (older ones, without a cursor). */
  truncated: boolean;
}

/**
 * The kept lines (after the cursor, else the newest) that match, at most `limit`, searched within the deadline; at
 * most GREP_TOTAL_BYTES of them are read for it (the next call goes on from there).
 */
async function searched(history: LineHistory, slots: number[] | undefined, since: number | undefined, limit: number, grep: string): Promise<Searched> {
  const pattern = compilePattern('grep', grep);
  const fromEnd = since === undefined;
  const candidates = history.read({ slots, since, limit: Number.MAX_SAFE_INTEGER, maxBytes: GREP_LINE_BYTES, budgetBytes: GREP_TOTAL_BYTES });
  const truncated = candidates.reduce((sum, line) => sum + line.textBytes, 0) >= GREP_TOTAL_BYTES;
  const outcome = await grepLines(pattern, candidates.map((l) => l.text), { fromEnd, wanted: limit });
  const lines = outcome.matches.map((i) => candidates[i]).sort((a, b) => a.seq - b.seq);
  let next: number | undefined;
  if (!fromEnd && outcome.stopped) next = candidates[outcome.stopped.index].seq; // that line is skipped, and said
  else if (!fromEnd && (outcome.searched < candidates.length || truncated)) next = candidates[outcome.searched - 1]?.seq;
  return { lines, next, outcome, candidates, truncated };
}

function grepFacts({ outcome, candidates, truncated }: Searched): Record<string, unknown> {
  const facts: Record<string, unknown> = { searched: outcome.searched, of: candidates.length };
  if (truncated) facts.truncated = true;
  if (outcome.error !== undefined) facts.error = outcome.error;
  if (outcome.stopped) {
    const line = candidates[outcome.stopped.index];
    facts.stopped = { afterMs: outcome.stopped.afterMs, seq: line.seq, slot: line.slot };
  }
  return facts;
}

export const LINES_SCHEMA: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['seq', 'slot', 'pid', 'time', 'text'],
    properties: {
      seq: { type: 'integer' }, slot: { type: 'integer' }, pid: { type: 'integer' }, time: { type: 'string' }, text: { type: 'string' },
      marker: { type: 'boolean' }, partial: { type: 'boolean' }, bytes: { type: 'integer' },
    },
  },
};

const LOST_SCHEMA: JsonSchema = {
  type: ['object', 'null'],
  description: 'Lines after the cursor that were dropped before this call (older than what is kept); exact false: at least this many.',
  properties: { count: { type: 'integer' }, exact: { type: 'boolean' } },
};

export const getWorkerLogs: AgentTool = {
  name: 'get_worker_logs',
  title: 'Get worker logs',
  userDescription: 'Reads the output of a server\'s master and workers, each line with its worker and pid.',
  description: 'Reads a server\'s output lines: each worker\'s own stream (its prints, logs, tracebacks) and the master\'s (slot 0), each line with its seq, slot, pid and time. Leave slot out for every stream. Without since: the newest lines; with since (the next of an earlier answer): the lines after it, oldest first, so polling sees each line once. grep filters by a regular expression. The answer says when lines after the cursor were dropped (each stream keeps its newest 10,000 to 40,000 lines). ' + OUTPUT_IS_DATA,
  readOnly: true,
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      server: SERVER_FIELD,
      slot: { type: 'integer', minimum: 0, maximum: 64, description: 'One stream: 0 the master, 1.. a worker\'s slot. Leave out for every stream.' },
      lines: { type: 'integer', minimum: 1, maximum: MAX_LINES, description: `At most this many lines (default 100, at most ${MAX_LINES}); an answer also stops at about 64 KB.` },
      since: { type: 'integer', minimum: 0, description: 'The cursor: the next of an earlier answer of this server. Only lines after it come.' },
      grep: { type: 'string', minLength: 1, maxLength: 1000, description: 'A JavaScript regular expression; only matching lines come. (?i) at its start ignores case.' },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['server', 'lines', 'next', 'more', 'lost'],
    properties: {
      server: { type: 'string' },
      lines: LINES_SCHEMA,
      next: { type: 'integer', description: 'Pass as since to read on from here.' },
      more: { type: 'boolean', description: 'More lines are there after next: call again with since = next.' },
      lost: LOST_SCHEMA,
      grep: {
        type: 'object',
        description: 'How the pattern searched: lines searched of those there were; stopped: the deadline (2 s) ended it in that line.',
        properties: {
          searched: { type: 'integer' }, of: { type: 'integer' }, error: { type: 'string' },
          truncated: { type: 'boolean', description: 'Only 16 MB of lines were read to search (without since: the newest).' },
          stopped: { type: 'object', properties: { afterMs: { type: 'integer' }, seq: { type: 'integer' }, slot: { type: 'integer' } } },
        },
      },
    },
  },
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    const history = supervisor.lines;
    const slots = slotsOf(supervisor, input.slot);
    const limit = (input.lines as number | undefined) ?? 100;
    const since = input.since as number | undefined;
    const newest = history.lastSeq;
    if (since !== undefined && since > newest) {
      throw new ToolError(`since ${since} is past the newest line of ${supervisor.name} (${newest}): a cursor is good only for the server whose answer gave it, and a server started again numbers its lines anew. Leave since out to read the newest lines.`);
    }
    const fromEnd = since === undefined;
    let picked: HistoryLine[];
    let grepped: Searched | undefined;
    let beyondLimit: boolean;
    if (typeof input.grep === 'string') {
      grepped = await searched(history, slots, since, limit, input.grep);
      picked = grepped.lines;
      beyondLimit = grepped.outcome.matches.length >= limit;
    } else {
      picked = history.read({ slots, since, limit: limit + 1, maxBytes: LINE_BYTES });
      beyondLimit = picked.length > limit;
      if (beyondLimit) picked = fromEnd ? picked.slice(1) : picked.slice(0, limit);
    }
    const { lines, formatted, cut } = withinBudget(history, picked, fromEnd);
    // With a cursor, `next` is the last line given when the answer is cut short; else all is read up to the newest.
    const short = cut || beyondLimit;
    let next = newest;
    if (!fromEnd && short) next = lines.at(-1)!.seq;
    else if (!fromEnd && grepped?.next !== undefined) next = grepped.next;
    const lost: LostLines | null = since === undefined ? null : history.lostAfter(since, slots);
    const data: Record<string, unknown> = { server: supervisor.name, lines, next, more: !fromEnd && (short || grepped?.next !== undefined), lost };
    if (grepped) data.grep = grepFacts(grepped);
    return { text: logsText(supervisor.name, slots, data, formatted), data };
  },
};

function logsText(server: string, slots: number[] | undefined, data: Record<string, unknown>, lines: string[]): string {
  const where = slots === undefined ? 'every stream' : slots[0] === 0 ? 'the master' : `worker ${slots[0]}`;
  const head = [`${server}, ${where}: ${lines.length} line${lines.length === 1 ? '' : 's'} (seq, m = master or wN = worker N, pid, time | text). next: ${data.next as number}${data.more ? ' (more after it: call again with since = next)' : ''}.`];
  const lost = data.lost as LostLines | null;
  if (lost && lost.count > 0) head.push(`${lost.exact ? '' : 'At least '}${lost.count} line${lost.count === 1 ? '' : 's'} after the cursor were dropped before this call (older than what is kept).`);
  const grep = data.grep as { searched: number; of: number; truncated?: boolean; stopped?: { afterMs: number; seq: number }; error?: string } | undefined;
  if (grep?.truncated) head.push(`The pattern searched ${grep.of} lines (16 MB of text)${data.more ? '; call again with since = next for the lines after them' : ', the newest; give since to search older ones'}.`);
  if (grep?.stopped) head.push(`The pattern was stopped after ${grep.stopped.afterMs} ms in line ${grep.stopped.seq} (it backtracks); ${grep.searched} of ${grep.of} lines were searched. A simpler pattern searches them all.`);
  if (grep?.error) head.push(`The pattern failed after ${grep.searched} of ${grep.of} lines: ${grep.error}.`);
  head.push(OUTPUT_IS_DATA);
  return [...head, ...lines].join('\n');
}
