/**
 * The pdb sessions of one run (docs/agent-protocol.md, "pdb"). `breakpoint()` in a worker (or in a master that serves
 * by itself) opens a connection of its own; each becomes a PdbSession that a view drives: VS Code's terminal, the
 * CLI's stdin. A session says where it stopped, what pdb writes, when pdb waits for a line, and how it ended; it takes
 * lines, Ctrl-C, Ctrl-D, completion requests and a detach (the worker continues, its breakpoints cleared).
 */
import { Emitter } from '../events';
import type { PdbStop } from '../model';
import type { AgentMessage, ControlConnection } from './agentServer';

/** starting: connected, not stopped yet; paused: in pdb (stepping included); running: continued with breakpoints set. */
export type PdbSessionState = 'starting' | 'paused' | 'running' | 'ended';

/**
 * continued: `c` with no breakpoint left; quit: `q` or EOF (Ctrl-D); detached: the supervisor let it go (its terminal
 * was closed, the server stops); interrupted: an exception left pdb's prompt (a signal's SystemExit); gone: the process
 * or its connection went away.
 */
export type PdbEndReason = 'continued' | 'quit' | 'detached' | 'interrupted' | 'gone';

export interface PdbEnd {
  reason: PdbEndReason;
  /** Said for people: "it continued", "its pdb terminal was closed", "killed by SIGKILL". */
  text: string;
}

/** Completions of a line's last word, which begins at `begin` in that line. */
export interface PdbCompletion {
  matches: string[];
  begin: number;
}

/** The most text one input carries (UTF-16 units): the agent reads at most 8 MiB a message, its JSON escapes included. */
export const PDB_INPUT_LIMIT = 1024 * 1024;

/** Why `text` cannot go to pdb (it is over PDB_INPUT_LIMIT), or undefined. */
export function pdbInputError(text: string): string | undefined {
  if (text.length <= PDB_INPUT_LIMIT) return undefined;
  return `pdb takes at most ${PDB_INPUT_LIMIT / 1024 / 1024} MiB of text at a time; this input has ${(text.length / 1024 / 1024).toFixed(1)} MiB and was not sent. Send it in smaller pieces, or load it from a file in pdb.`;
}

const COMPLETION_TIMEOUT_MS = 5000;
/** A connection that closed without its end message: how long the process's exit (and its reason) may take to come. */
const GONE_GRACE_MS = 5000;

const END_TEXT: Record<Exclude<PdbEndReason, 'detached' | 'gone'>, string> = {
  continued: 'it continued',
  quit: 'pdb quit',
  interrupted: 'pdb was interrupted (the process is stopping)',
};

export class PdbSession {
  /** It stopped: `entered` when it was not in pdb just before (a new session, or one that ran to a breakpoint). */
  readonly onStop = new Emitter<{ stop: PdbStop; entered: boolean }>();
  /** What pdb wrote (lines and the prompt, as pdb writes them). */
  readonly onOutput = new Emitter<string>();
  /** pdb waits for a line; the prompt was written just before. */
  readonly onPrompt = new Emitter<string>();
  /** It continued with breakpoints set: it serves until one of them stops it. */
  readonly onRunning = new Emitter<void>();
  readonly onEnd = new Emitter<PdbEnd>();
  /** The connection closed without saying how the session ended (PdbSessions then learns why). */
  readonly onClosed = new Emitter<void>();
  private sessionState: PdbSessionState = 'starting';
  private current: PdbStop | undefined;
  private waitingPrompt: string | undefined;
  private detachedBecause: string | undefined;
  private ending: PdbEnd | undefined;

  constructor(readonly id: number, readonly slot: number, readonly pid: number, private readonly connection: ControlConnection) {
    connection.onMessage((message) => this.receive(message));
    connection.onClose(() => {
      if (!this.ending) this.onClosed.fire();
    });
  }

  get state(): PdbSessionState {
    return this.sessionState;
  }

  /** Where it is stopped, while it is paused. */
  get stop(): PdbStop | undefined {
    return this.current;
  }

  /** The prompt pdb waits at, while it waits for a line. */
  get prompt(): string | undefined {
    return this.waitingPrompt;
  }

  get end(): PdbEnd | undefined {
    return this.ending;
  }

  /**
   * A line (or several) for pdb; false when the session has ended or `text` is over PDB_INPUT_LIMIT (see
   * pdbInputError). Lines typed ahead wait for pdb's next prompt.
   */
  input(text: string): boolean {
    if (this.ending || pdbInputError(text) !== undefined) return false;
    this.waitingPrompt = undefined;
    this.connection.send({ t: 'input', text });
    return true;
  }

  /** Ctrl-C: at the prompt, pdb says --KeyboardInterrupt-- and prompts again; during a command, the command stops. */
  interrupt(): void {
    if (!this.ending) this.connection.send({ t: 'interrupt' });
  }

  /** Ctrl-D: EOF on pdb's stdin (pdb quits, as in a terminal). */
  eof(): void {
    if (this.ending) return;
    this.waitingPrompt = undefined;
    this.connection.send({ t: 'eof' });
  }

  /** Lets the process go: its breakpoints are cleared and it continues. `why` is said in the end's text. */
  detach(why: string): void {
    if (this.ending) return;
    this.detachedBecause ??= why;
    this.connection.send({ t: 'detach' });
  }

  /** Completions for the last word of `line` (as pdb's tab completion in a terminal would offer). */
  async complete(line: string): Promise<PdbCompletion> {
    if (this.ending || this.waitingPrompt === undefined) return { matches: [], begin: line.length };
    try {
      const reply = await this.connection.request({ t: 'complete', line }, COMPLETION_TIMEOUT_MS);
      const matches = Array.isArray(reply.matches) ? reply.matches.filter((m): m is string => typeof m === 'string') : [];
      const begin = typeof reply.begin === 'number' && reply.begin >= 0 && reply.begin <= line.length ? reply.begin : line.length;
      return { matches, begin };
    } catch {
      return { matches: [], begin: line.length };
    }
  }

  /** Ends the session (once): the connection closes. */
  finish(end: PdbEnd): void {
    if (this.ending) return;
    this.ending = end;
    this.sessionState = 'ended';
    this.current = undefined;
    this.waitingPrompt = undefined;
    this.connection.close();
    this.onEnd.fire(end);
  }

  private receive(message: AgentMessage): void {
    if (this.ending) return;
    switch (message.t) {
      case 'stop': {
        const stop = stopOf(message);
        if (!stop) return;
        const entered = this.sessionState !== 'paused';
        this.sessionState = 'paused';
        this.current = stop;
        this.onStop.fire({ stop, entered });
        return;
      }
      case 'output':
        if (typeof message.text === 'string' && message.text !== '') this.onOutput.fire(message.text);
        return;
      case 'prompt':
        this.waitingPrompt = typeof message.prompt === 'string' ? message.prompt : '(Pdb) ';
        this.onPrompt.fire(this.waitingPrompt);
        return;
      case 'running':
        this.sessionState = 'running';
        this.current = undefined;
        this.waitingPrompt = undefined;
        this.onRunning.fire();
        return;
      case 'end':
        this.finish(this.endOf(message.how));
        return;
    }
  }

  private endOf(how: unknown): PdbEnd {
    if (how === 'detached') return { reason: 'detached', text: this.detachedBecause ?? 'it was let go' };
    if (how === 'continued' || how === 'quit' || how === 'interrupted') return { reason: how, text: END_TEXT[how] };
    return { reason: 'continued', text: END_TEXT.continued };
  }
}

function stopOf(message: AgentMessage): PdbStop | undefined {
  const { file, line } = message;
  if (typeof file !== 'string' || typeof line !== 'number') return undefined;
  return {
    file,
    line,
    function: typeof message.function === 'string' ? message.function : '',
    thread: typeof message.thread === 'string' ? message.thread : '',
  };
}

/** Every pdb session of a run, in the order they opened. */
export class PdbSessions {
  readonly onSession = new Emitter<PdbSession>();
  /** The pdb state of this pid changed (it stopped, ran on, or a session ended). */
  readonly onChange = new Emitter<number>();
  private readonly sessions = new Set<PdbSession>();
  private nextId = 1;

  open(slot: number, connection: ControlConnection): PdbSession {
    const session = new PdbSession(this.nextId++, slot, connection.hello.pid, connection);
    this.sessions.add(session);
    session.onStop.on(() => this.onChange.fire(session.pid));
    session.onRunning.on(() => this.onChange.fire(session.pid));
    session.onEnd.on(() => {
      this.sessions.delete(session);
      this.onChange.fire(session.pid);
    });
    session.onClosed.on(() => {
      const timer = setTimeout(() => session.finish({ reason: 'gone', text: 'its pdb connection closed' }), GONE_GRACE_MS);
      timer.unref();
      session.onEnd.on(() => clearTimeout(timer));
    });
    this.onSession.fire(session);
    return session;
  }

  /** The sessions not ended yet, oldest first. */
  all(): PdbSession[] {
    return [...this.sessions];
  }

  /** Where `pid` waits in pdb: its most recent paused session's stop. */
  stopOf(pid: number): PdbStop | undefined {
    return this.all().reverse().find((s) => s.pid === pid && s.state === 'paused')?.stop;
  }

  anyPaused(): boolean {
    return this.all().some((s) => s.state === 'paused');
  }

  /** The process exited: its sessions end, saying how (`text`: "killed by SIGKILL"). */
  processExited(pid: number, text: string): void {
    for (const session of this.all()) if (session.pid === pid) session.finish({ reason: 'gone', text });
  }

  /** Every session continues (the server stops): their processes can finish their requests and exit. */
  detachAll(why: string): void {
    for (const session of this.all()) session.detach(why);
  }

  /** The run is over: whatever is left ends now. */
  closeAll(text: string): void {
    for (const session of this.all()) session.finish({ reason: 'gone', text });
  }
}
