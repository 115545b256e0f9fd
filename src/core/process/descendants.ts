/**
 * Every process a server started, whatever became of its parent: the master is a child subreaper (set before exec,
 * parentDeathSignal.ts), so a descendant whose parent exits is adopted by the master instead of init, and a walk down
 * from the master finds it; a process in a session of its own is found the same way (a session changes its group,
 * not its parent). Each one is remembered by pid and start time while it lives (the stats tick, the stop), so that it
 * can still be ended when the master died first, and a pid that another process took since is never signalled.
 */
import * as fs from 'node:fs';
import { isSameProcessAlive, listPids, type ProcessIdentity, readProcStat } from './procfs';

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
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
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
  if (!isSameProcessAlive(root)) return [];
  const found: Descendant[] = [];
  const seen = new Set<number>([root.pid]);
  let byParent: Map<number, number[]> | undefined;
  const queue = [root.pid];
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
      if (!stat || stat.ppid !== parent || stat.startTicks < root.startTicks) continue;
      queue.push(pid);
      if (stat.state !== 'Z' && stat.state !== 'X') found.push({ pid, startTicks: stat.startTicks, pgrp: stat.pgrp });
    }
  }
  return found;
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

/** The descendants of one master, remembered while they live. */
export class DescendantTracker {
  private readonly known = new Map<number, Descendant>();

  constructor(private readonly root: ProcessIdentity) {}

  /** Walks down from the master: new descendants are remembered, the ones that exited (or whose pid was taken) forgotten. */
  refresh(): Descendant[] {
    const fresh: Descendant[] = [];
    for (const descendant of descendantsOf(this.root)) {
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
