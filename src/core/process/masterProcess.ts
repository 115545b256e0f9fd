/**
 * The server's master process: spawned in its own process group with the parent-death signal set (and as a child
 * subreaper), its output as lines, its exit, the signals the supervisor sends it, its descendants, and the stop that
 * leaves nothing: SIGTERM to the group and to the descendants outside it, SIGKILL to the tree after the grace time,
 * then SIGKILL to whatever of the group and of the descendants /proc still shows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import treeKill from 'tree-kill';
import { ServerError } from '../errors';
import { Emitter } from '../events';
import { LineSplitter } from '../lineSplitter';
import { OpenLineFlusher } from '../openLines';
import { withParentDeathSignal } from './parentDeathSignal';
import { DescendantTracker } from './descendants';
import { identityOf, isSelfOrDescendant, processGroupMembers, type ProcessIdentity, readProcStat } from './procfs';

/** How long the stop goes on killing what /proc still shows, after the master's tree was killed. */
const REMAINDER_DEADLINE_MS = 5000;
/** While the master stops, its tree is walked this often: what its processes start or orphan meanwhile is seen. */
const STOP_WALK_MS = 100;

export interface MasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A line (or a piece of one: see LineSplitter) of the master's stdout or stderr. */
export interface MasterLine {
  text: string;
  stream: 'stdout' | 'stderr';
  /** LineSplitter's PIECE_OPEN / PIECE_CONTINUED bits; 0 for a whole line. */
  piece: number;
}

export class MasterProcess {
  /** Each line of its stdout and stderr (the workers' own output goes through the agent, when it is on). */
  readonly onLine = new Emitter<MasterLine>();
  readonly onExit = new Emitter<MasterExit>();
  /** Settles when the process has exited and its pipes are closed. */
  readonly closed: Promise<void>;
  readonly startedAt = Date.now();
  private identity: ProcessIdentity | undefined;
  private descendants: DescendantTracker | undefined;

  private constructor(private readonly child: ChildProcess) {
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
  }

  /** Starts `python argv` (the server's own arguments) in `cwd` with `env`; settles once the process exists. */
  static async spawn(python: string, argv: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<MasterProcess> {
    const child = spawn(python, withParentDeathSignal(python, argv), { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const master = new MasterProcess(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) => reject(new ServerError(`Could not start ${python}: ${error.message}`, 'spawn')));
    });
    master.identity = identityOf(child.pid!);
    if (master.identity) master.descendants = new DescendantTracker(master.identity);
    const openLines = new OpenLineFlusher();
    for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      const splitter = new LineSplitter((text, piece) => master.onLine.fire({ text, stream: name, piece }));
      const source = { get hasPartial() { return splitter.hasPartial; }, flush: () => splitter.flush() };
      stream.on('data', (chunk: Buffer) => {
        splitter.push(chunk);
        openLines.afterRead(source);
      });
      stream.on('end', () => {
        openLines.forget(source);
        splitter.end();
      });
    }
    child.once('exit', (code, signal) => master.onExit.fire({ code, signal }));
    return master;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** It has not exited (a death by signal leaves exitCode null too). */
  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** `pid` is the master or one of its descendants, started after it: a process of this server (then remembered). */
  owns(pid: number): boolean {
    if (this.identity === undefined || !isSelfOrDescendant(pid, this.identity)) return false;
    const stat = readProcStat(pid);
    if (pid !== this.pid && stat) this.descendants?.remember({ pid, startTicks: stat.startTicks, pgrp: stat.pgrp });
    return true;
  }

  /**
   * The stats tick: remembers every process of the master's tree (DescendantTracker.tick: the master's children each
   * time, the whole tree when one is new), so that they can be ended even when the master dies first.
   */
  trackDescendants(): void {
    this.descendants?.tick();
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running()) throw new ServerError('The server is not running.', 'state');
    process.kill(this.pid, signal);
  }

  /**
   * SIGTERM to the master (its graceful stop) and to its descendants outside its process group (the server stops
   * its group itself; a process in a session of its own is not in it); after `graceMs` SIGKILL to the tree; then
   * SIGKILL to what is left of the group and of the descendants until /proc shows none.
   */
  async stop(graceMs: number): Promise<void> {
    const pgid = this.pid;
    const descendants = this.descendants;
    if (this.running()) {
      descendants?.refresh();
      try {
        process.kill(pgid, 'SIGTERM');
      } catch {
        // already gone
      }
      descendants?.signalOutside(pgid, 'SIGTERM');
      const exited = await this.waitForExit(graceMs);
      if (!exited) await new Promise<void>((resolve) => treeKill(pgid, 'SIGKILL', () => resolve()));
    }
    await killRemainder(pgid, descendants);
    descendants?.close();
    await this.closed;
  }

  /** Waits at most `graceMs` for the master to exit, walking its tree meanwhile: what is new outside the group gets SIGTERM too. */
  private async waitForExit(graceMs: number): Promise<boolean> {
    const deadline = Date.now() + graceMs;
    let exited = false;
    void this.closed.then(() => (exited = true));
    while (!exited && Date.now() < deadline) {
      await Promise.race([this.closed, delay(Math.min(STOP_WALK_MS, deadline - Date.now()))]);
      if (exited || !this.descendants) continue;
      const fresh = this.descendants.refresh();
      if (fresh.length > 0) this.descendants.signalOutside(this.pid, 'SIGTERM', fresh);
    }
    return exited;
  }
}

/** SIGKILL to whatever of the process group and of the descendants outlived the master, until /proc shows none. */
async function killRemainder(pgid: number, descendants: DescendantTracker | undefined): Promise<void> {
  const deadline = Date.now() + REMAINDER_DEADLINE_MS;
  for (;;) {
    descendants?.refresh();
    const group = processGroupMembers(pgid);
    const outside = descendants?.alive().filter((d) => !group.includes(d.pid)) ?? [];
    if (group.length === 0 && outside.length === 0) return;
    if (group.length > 0) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // the group may be empty already
      }
    }
    descendants?.signalOutside(pgid, 'SIGKILL', outside);
    if (Date.now() > deadline) return;
    await delay(50);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
