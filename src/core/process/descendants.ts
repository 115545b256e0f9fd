/**
 * Every process a server started, whatever became of its parent: the master is a child subreaper (set before exec,
 * parentDeathSignal.ts), so a descendant whose parent exits is adopted by the master instead of init, and a walk down
 * from the master finds it; a process in a session of its own is found the same way (a session changes its group,
 * not its parent). Each one is remembered by pid and start time while it lives (the stats tick, the stop), so that it
 * can still be ended when the master died first, and a pid that another process took since is never signalled.
 */
import * as fs from 'node:fs';
import { isSameProcessAlive, listPids, type ProcessIdentity, readProcFile, readProcStat, rereadProcFile, rereadProcStat } from './procfs';

/** The stats tick walks the whole tree at least this often, even when the master's children did not change. */
export const FULL_WALK_INTERVAL_MS = 30_000;

export interface Descendant extends ProcessIdentity {
  pgrp: number;
}

/** The children of every thread of `pid` (a thread's children are listed under its own task). */
function childrenOfProcess(pid: number): number[] | undefined {
  let threads: string[];
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const tid of threads) {
    let text: string;
    try {
      text = readProcFile(`/proc/${pid}/task/${tid}/children`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync(`/proc/${pid}/task/${tid}`)) return undefined; // no CONFIG_PROC_CHILDREN
      continue;
    }
    for (const field of text.split(' ')) if (field.trim() !== '') children.push(Number(field));
  }
  return children;
}

/** Parent → children of every process in /proc: the slow way, for kernels without the children files. */
function childrenByParent(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const pid of listPids()) {
    const stat = readProcStat(pid);
    if (!stat) continue;
    const siblings = byParent.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else byParent.set(stat.ppid, [pid]);
  }
  return byParent;
}

/**
 * The living descendants of `root` (not `root` itself), each started no earlier than it: a pid can only be a
 * descendant of a process that existed before it. Empty when `root` is no longer the process it names.
 */
export function descendantsOf(root: ProcessIdentity): Descendant[] {
  return isSameProcessAlive(root) ? walkDown([root.pid], root.startTicks).found : [];
}

/**
 * Every process below `starts` (each started no earlier than `notBefore`): the living ones, and every pid seen on the
 * way (zombies too), so that the next tick can tell a new child from one seen before.
 */
function walkDown(starts: readonly number[], notBefore: number): { found: Descendant[]; seen: Set<number> } {
  const found: Descendant[] = [];
  const seen = new Set<number>(starts);
  let byParent: Map<number, number[]> | undefined;
  const queue = [...starts];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let children = byParent ? byParent.get(parent) ?? [] : childrenOfProcess(parent);
    if (children === undefined) {
      byParent = childrenByParent();
      children = byParent.get(parent) ?? [];
    }
    for (const pid of children) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      const stat = readProcStat(pid);
      if (!stat || stat.ppid !== parent || stat.startTicks < notBefore) continue;
      queue.push(pid);
      if (stat.state !== 'Z' && stat.state !== 'X') found.push({ pid, startTicks: stat.startTicks, pgrp: stat.pgrp });
    }
  }
  return { found, seen };
}

/** Sends `signal` to `identity` if it is still that process; true when it was sent. */
export function signalIfSame(identity: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isSameProcessAlive(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * The descendants of one master, remembered while they live. The stats tick (`tick`) reads only the children of the
 * master's threads: a worker, or an orphan the master adopted (as a subreaper, it adopts whatever loses its parent
 * below it). When one of them was not seen before, and every FULL_WALK_INTERVAL_MS, it walks the whole tree; so does
 * every `refresh` (the stop). A process a worker starts is found by the next full walk, or as soon as its worker
 * exits (it is adopted by the master then).
 */
export class DescendantTracker {
  private readonly known = new Map<number, Descendant>();
  /** Every pid the last full walk met, zombies included (a zombie the server does not reap is not new on each tick). */
  private seen = new Set<number>();
  private lastFullWalkAt = -Infinity;
  private readonly rootFiles: RootFiles;

  constructor(private readonly root: ProcessIdentity) {
    this.rootFiles = new RootFiles(root);
  }

  /** The stats tick: what is new below the master, read as cheaply as the tree allows (see the class). */
  tick(now = Date.now()): Descendant[] {
    if (now - this.lastFullWalkAt < FULL_WALK_INTERVAL_MS) {
      const children = this.rootFiles.children();
      if (children !== undefined && children.every((pid) => this.seen.has(pid))) return [];
    }
    return this.refresh(now);
  }

  /** Closes the files the tick keeps open (they close by themselves once the master is gone). */
  close(): void {
    this.rootFiles.close();
  }

  /**
   * Walks the whole tree: new descendants are remembered, the ones that exited (or whose pid was taken) forgotten.
   * Once the master is gone, the walk starts from the processes remembered that still run, so that what they
   * started is found too.
   */
  refresh(now = Date.now()): Descendant[] {
    this.lastFullWalkAt = now;
    const rootAlive = isSameProcessAlive(this.root);
    const starts = rootAlive ? [this.root.pid] : this.alive().map((d) => d.pid);
    const { found, seen } = walkDown(starts, this.root.startTicks);
    this.seen = seen;
    const fresh: Descendant[] = [];
    for (const descendant of found) {
      const known = this.known.get(descendant.pid);
      if (known?.startTicks === descendant.startTicks) continue;
      this.known.set(descendant.pid, descendant);
      fresh.push(descendant);
    }
    for (const [pid, identity] of this.known) if (!isSameProcessAlive(identity)) this.known.delete(pid);
    return fresh;
  }

  /** Remembers a process found to be a descendant some other way (a worker's hello, checked by ancestry). */
  remember(descendant: Descendant): void {
    this.known.set(descendant.pid, descendant);
  }

  /** The remembered processes that still run (each the same process as when it was found). */
  alive(): Descendant[] {
    return [...this.known.values()].filter(isSameProcessAlive);
  }

  /**
   * Sends `signal` to every remembered process that still runs outside the process group `group` (its group as
   * /proc shows it now: a child may call setsid() after it was found); how many got it.
   */
  signalOutside(group: number, signal: NodeJS.Signals, among: readonly ProcessIdentity[] = [...this.known.values()]): number {
    let sent = 0;
    for (const identity of among) {
      const stat = readProcStat(identity.pid);
      if (!stat || stat.startTicks !== identity.startTicks || stat.pgrp === group || stat.state === 'Z' || stat.state === 'X') continue;
      if (signalIfSame(identity, signal)) sent++;
    }
    return sent;
  }

  get size(): number {
    return this.known.size;
  }
}

/**
 * The children of the root's threads, through files kept open between ticks: its stat (its thread count, and that it
 * is still the process it names) and each thread's children file, read again from their start. The threads are
 * listed again when their count changed; a thread gone (a read fails) or the root gone closes the files.
 */
class RootFiles {
  private stat: number | undefined;
  private readonly threads = new Map<string, number>();

  constructor(private readonly root: ProcessIdentity) {}

  /** Undefined when the root is gone, a thread went, or the kernel has no children files: then walk the tree. */
  children(): number[] | undefined {
    try {
      this.stat ??= fs.openSync(`/proc/${this.root.pid}/stat`, 'r');
      const stat = rereadProcStat(this.root.pid, this.stat);
      if (stat.startTicks !== this.root.startTicks || stat.state === 'Z' || stat.state === 'X') throw new Error('the root is gone');
      if (stat.threads !== this.threads.size) this.listThreads();
      const children: number[] = [];
      for (const fd of this.threads.values()) {
        for (const field of rereadProcFile(fd).split(' ')) if (field.trim() !== '') children.push(Number(field));
      }
      return children;
    } catch {
      this.close();
      return undefined;
    }
  }

  close(): void {
    for (const fd of [this.stat, ...this.threads.values()]) if (fd !== undefined) fs.closeSync(fd);
    this.stat = undefined;
    this.threads.clear();
  }

  private listThreads(): void {
    const tids = fs.readdirSync(`/proc/${this.root.pid}/task`);
    for (const [tid, fd] of this.threads) {
      if (tids.includes(tid)) continue;
      fs.closeSync(fd);
      this.threads.delete(tid);
    }
    for (const tid of tids) if (!this.threads.has(tid)) this.threads.set(tid, fs.openSync(`/proc/${this.root.pid}/task/${tid}/children`, 'r'));
  }
}
