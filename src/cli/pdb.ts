/**
 * pdb in a worker, in `server-workers run`: a worker entering pdb is announced, pdb's output and prompt appear as that
 * worker's lines, and lines reach its pdb: typed on stdin (for people: to the worker named by `:slot N`, else the one
 * that entered pdb last), or `{"cmd":"input","slot":N,"text":"p x\n"}` (--json: pdb's output comes as `log` events
 * with `"stream": "pdb"`, the prompt with `"prompt": true`).
 */
import { pdbInputError, type PdbSession } from '../core/agent/pdbSessions';
import type { Supervisor } from '../core/supervisor';

/** How the CLI writes: JSON events, or lines for people (prefixed per slot). */
export interface PdbCliOutput {
  json: boolean;
  emit(event: Record<string, unknown>): void;
  /** A line of `slot` for people, with its prefix; `partial`: no newline after it (pdb's prompt). */
  slotLine(slot: number, text: string, partial?: boolean): void;
  info(text: string): void;
}

/** stdout for people: a line that comes after a prompt (written without its newline) starts on a line of its own. */
export class PeopleStdout {
  private afterPartial = false;

  write(text: string, partial = false): void {
    process.stdout.write((this.afterPartial ? '\n' : '') + text);
    this.afterPartial = partial;
  }

  /** The person pressed Enter in a terminal: its echo put the cursor on a new line already. */
  typed(): void {
    this.afterPartial = false;
  }
}

export class CliPdb {
  /** Sessions not ended, the one that entered pdb last at the end. */
  private readonly sessions: PdbSession[] = [];
  /** `:slot N` chose this worker's pdb. */
  private chosenSlot: number | undefined;

  constructor(supervisor: Supervisor, private readonly out: PdbCliOutput) {
    supervisor.onPdb.on((session) => this.follow(session));
  }

  /** --json's `input` command; the error to report, or undefined. */
  input(slot: unknown, text: unknown): string | undefined {
    if (typeof text !== 'string') return '"input" takes "text": the line(s) for pdb, such as "p x\\n".';
    if (slot !== undefined && (typeof slot !== 'number' || !Number.isInteger(slot))) return '"slot" must be a worker\'s slot number.';
    const line = text.endsWith('\n') ? text : `${text}\n`;
    const tooLong = pdbInputError(line);
    if (tooLong) return tooLong;
    const session = this.target(slot);
    if (!session) return slot === undefined ? 'No worker is in pdb.' : `Worker ${slot} is not in pdb.`;
    session.input(line);
    return undefined;
  }

  /** A line typed on stdin (people): `:slot N`, or a line for pdb. */
  typed(line: string): void {
    const choice = /^\s*:slot\s+(\S+)\s*$/.exec(line);
    if (choice) {
      const slot = Number(choice[1]);
      if (this.target(slot)) {
        this.chosenSlot = slot;
        this.out.info(`lines you type go to the pdb of ${workerName(slot)}`);
      } else {
        this.out.info(`${Number.isInteger(slot) ? workerName(slot) : `"${choice[1]}"`} is not in pdb${this.inPdbNow()}`);
      }
      return;
    }
    const session = this.target(this.chosenSlot) ?? this.target(undefined);
    const tooLong = pdbInputError(`${line}\n`);
    if (session && tooLong) this.out.info(tooLong);
    else if (session) session.input(`${line}\n`);
    else if (line.trim() !== '') this.out.info('no worker is in pdb: what you type goes to a worker\'s pdb once breakpoint() stops one');
  }

  /** The most recent session of `slot` (any slot when undefined), paused ones first. */
  private target(slot: number | undefined): PdbSession | undefined {
    const candidates = this.sessions.filter((s) => slot === undefined || s.slot === slot).reverse();
    return candidates.find((s) => s.state === 'paused') ?? candidates[0];
  }

  private inPdbNow(): string {
    const slots = [...new Set(this.sessions.map((s) => s.slot))];
    return slots.length === 0 ? ': no worker is' : ` (in pdb: ${slots.map(workerName).join(', ')})`;
  }

  private follow(session: PdbSession): void {
    const { slot, pid } = session;
    let pending = '';
    const lines = (text: string, prompt: boolean) => {
      if (this.out.json) this.out.emit({ event: 'log', slot, pid, stream: 'pdb', line: text, ...(prompt ? { prompt: true } : {}) });
      else this.out.slotLine(slot, text, prompt);
    };
    this.sessions.push(session);
    session.onStop.on(({ stop, entered }) => {
      if (!entered) return;
      this.sessions.splice(this.sessions.indexOf(session), 1);
      this.sessions.push(session);
      if (this.out.json) {
        this.out.emit({ event: 'pdb', slot, pid, file: stop.file, line: stop.line, function: stop.function, thread: stop.thread });
        return;
      }
      const others = this.sessions.length > 1 ? ` (":slot N" picks another worker in pdb${this.inPdbNow()})` : '';
      this.out.info(`${workerName(slot)} (pid ${pid}) is in pdb at ${stop.file}:${stop.line}; lines you type go to it${others}`);
    });
    session.onOutput.on((text) => {
      const parts = (pending + text).split('\n');
      pending = parts.pop()!;
      for (const line of parts) lines(line, false);
    });
    session.onPrompt.on(() => {
      if (pending === '') return;
      lines(pending, true);
      pending = '';
    });
    session.onEnd.on((end) => {
      if (pending !== '') lines(pending, false);
      this.sessions.splice(this.sessions.indexOf(session), 1);
      if (this.chosenSlot === slot && !this.sessions.some((s) => s.slot === slot)) this.chosenSlot = undefined;
      if (this.out.json) this.out.emit({ event: 'pdb-end', slot, pid, reason: end.reason, text: end.text });
      else this.out.info(`${workerName(slot)} (pid ${pid}) left pdb: ${end.text}`);
    });
  }
}

function workerName(slot: number): string {
  return slot === 0 ? 'the master' : `worker ${slot}`;
}
