/**
 * The server's master process: spawned in its own process group with the parent-death signal set, its output as
 * lines, its exit, the signals the supervisor sends it, and the stop that leaves nothing: SIGTERM to the group, SIGKILL
 * to the tree after the grace time, then SIGKILL to whatever of the group (and of the given pids) /proc still shows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import treeKill from 'tree-kill';
import { ServerError } from '../errors';
import { Emitter } from '../events';
import { LineSplitter } from '../lineSplitter';
import { withParentDeathSignal } from './parentDeathSignal';
import { identityOf, isAlive, isSelfOrDescendant, processGroupMembers, type ProcessIdentity } from './procfs';

/** How long the stop goes on killing what /proc still shows, after the master's tree was killed. */
const REMAINDER_DEADLINE_MS = 5000;

export interface MasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class MasterProcess {
  /** Each line of its stdout and stderr (the workers' own output goes through the agent, when it is on). */
  readonly onLine = new Emitter<string>();
  readonly onExit = new Emitter<MasterExit>();
  /** Settles when the process has exited and its pipes are closed. */
  readonly closed: Promise<void>;
  readonly startedAt = Date.now();
  private identity: ProcessIdentity | undefined;

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
    for (const stream of [child.stdout, child.stderr]) {
      const splitter = new LineSplitter((line) => master.onLine.fire(line));
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.on('end', () => splitter.end());
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

  /** `pid` is the master or one of its descendants, started after it: a process of this server. */
  owns(pid: number): boolean {
    return this.identity !== undefined && isSelfOrDescendant(pid, this.identity);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running()) throw new ServerError('The server is not running.', 'state');
    process.kill(this.pid, signal);
  }

  /** SIGTERM to the group; after `graceMs` SIGKILL to the tree; then SIGKILL to what is left until /proc shows none. */
  async stop(graceMs: number, alsoKill: () => number[]): Promise<void> {
    const pgid = this.pid;
    if (this.running()) {
      try {
        process.kill(pgid, 'SIGTERM');
      } catch {
        // already gone
      }
      const exited = await Promise.race([this.closed.then(() => true), delay(graceMs).then(() => false)]);
      if (!exited) await new Promise<void>((resolve) => treeKill(pgid, 'SIGKILL', () => resolve()));
    }
    await killRemainder(pgid, alsoKill);
    await this.closed;
  }
}

/** SIGKILL to whatever of the process group (and `alsoKill`'s pids) outlived the master, until /proc shows none. */
async function killRemainder(pgid: number, alsoKill: () => number[]): Promise<void> {
  const deadline = Date.now() + REMAINDER_DEADLINE_MS;
  for (;;) {
    const left = new Set([...processGroupMembers(pgid), ...alsoKill().filter(isAlive)]);
    if (left.size === 0) return;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the group may be empty already
    }
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (Date.now() > deadline) return;
    await delay(50);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
