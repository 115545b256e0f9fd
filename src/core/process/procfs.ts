/** Reading processes from Linux's /proc: existence, parent, group, CPU and memory, who holds a port. */
import * as fs from 'node:fs';
import * as os from 'node:os';

export const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  /** user + system CPU time in seconds */
  cpuSeconds: number;
  rssBytes: number;
  /** When it started, in clock ticks since boot (field 22): with the pid, it names one process, whatever reuses the pid later. */
  startTicks: number;
  /** Its threads (field 20). */
  threads: number;
  /** A zombie's wait status (field 52, Linux 3.5+): how it died, readable before its parent reaps it (only a zombie's is read). */
  waitStatus: number | undefined;
}

/** One buffer for every read of a /proc file: the stats tick reads one per process each second. */
let procBuffer = Buffer.allocUnsafe(4096);

/**
 * A /proc file's text, like `fs.readFileSync(file, 'latin1')` (and throwing as it does) with fewer system calls:
 * open, one read (procfs files report no size, so readFileSync also calls fstat and reads again for the end) and
 * close, into a buffer kept for the next read.
 */
export function readProcFile(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    let length = 0;
    for (;;) {
      const read = fs.readSync(fd, procBuffer, length, procBuffer.length - length, null);
      length += read;
      if (read === 0 || length < procBuffer.length) return procBuffer.toString('latin1', 0, length);
      const bigger = Buffer.allocUnsafe(procBuffer.length * 2); // a file longer than the buffer: read on
      procBuffer.copy(bigger, 0, 0, length);
      procBuffer = bigger;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The text of a /proc file kept open, read again from its start (one pread); throws once what it shows is gone. */
export function rereadProcFile(fd: number): string {
  const length = fs.readSync(fd, procBuffer, 0, procBuffer.length, 0);
  return procBuffer.toString('latin1', 0, length);
}

/** A kept /proc file's stat line, parsed (see rereadProcFile). */
export function rereadProcStat(pid: number, fd: number): ProcStat {
  return parseProcStat(pid, rereadProcFile(fd));
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readProcFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  return parseProcStat(pid, text);
}

function parseProcStat(pid: number, text: string): ProcStat {
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'. Only the fields
  // used are cut out (the stats tick parses one line per process each second); the wait status only of a zombie.
  const fields = fieldStarts(text, text.lastIndexOf(')') + 2, 21);
  const field = (n: number): number => Number(text.slice(fields[n], fields[n + 1] - 1));
  const state = text.slice(fields[0], fields[1] - 1);
  let waitStatus: number | undefined;
  if (state === 'Z') {
    const rest = text.slice(fields[21]).split(' ');
    waitStatus = rest.length > 28 ? Number(rest[28]) : undefined;
  }
  return {
    pid,
    state,
    ppid: field(1),
    pgrp: field(2),
    cpuSeconds: (field(11) + field(12)) / CLOCK_TICKS_PER_SECOND,
    rssBytes: field(21) * PAGE_SIZE,
    startTicks: field(19),
    threads: field(17),
    waitStatus,
  };
}

/** Where each of the first `last + 1` space-separated fields from `from` starts, and where the next one would. */
function fieldStarts(text: string, from: number, last: number): number[] {
  const starts = [from];
  let at = from;
  for (let n = 0; n <= last; n++) {
    const space = text.indexOf(' ', at);
    at = space === -1 ? text.length + 1 : space + 1;
    starts.push(at);
  }
  return starts;
}

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, number]) => [number, name]));

/** How a zombie process ended, from its wait status; undefined while it runs or once it is reaped. */
export function zombieExit(pid: number): { code: number | null; signal: string | null } | undefined {
  const stat = readProcStat(pid);
  if (stat?.state !== 'Z' || stat.waitStatus === undefined) return undefined;
  const signal = stat.waitStatus & 0x7f;
  if (signal === 0) return { code: (stat.waitStatus >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(signal) ?? `signal ${signal}` };
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** One process: its pid and its start time. A pid alone may name another process once this one is gone. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

export function identityOf(pid: number): ProcessIdentity | undefined {
  const stat = readProcStat(pid);
  return stat && stat.state !== 'Z' && stat.state !== 'X' ? { pid, startTicks: stat.startTicks } : undefined;
}

/** The process `identity` names still runs (its pid was not taken by another process since). */
export function isSameProcessAlive(identity: ProcessIdentity): boolean {
  return identityOf(identity.pid)?.startTicks === identity.startTicks;
}

/**
 * `pid` is `ancestor` or descends from it (following parents in /proc), and started no earlier: a pid that only
 * claims to be one of the server's processes is not.
 */
export function isSelfOrDescendant(pid: number, ancestor: ProcessIdentity): boolean {
  let current = readProcStat(pid);
  if (!current || current.startTicks < ancestor.startTicks) return false;
  for (let hops = 0; current && hops < 64; hops++) {
    if (current.pid === ancestor.pid) return current.startTicks === ancestor.startTicks;
    if (current.ppid <= 1) return false;
    current = readProcStat(current.ppid);
  }
  return false;
}

/** When the process started, in ms since the epoch (to 10 ms), or undefined when /proc does not show it. */
export function startedAtMs(pid: number): number | undefined {
  const stat = readProcStat(pid);
  if (!stat) return undefined;
  try {
    const uptimeSeconds = Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    return Date.now() - uptimeSeconds * 1000 + (stat.startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return undefined;
  }
}

export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

/** Living members of a process group. */
export function processGroupMembers(pgid: number): number[] {
  return listPids().filter((pid) => {
    const stat = readProcStat(pid);
    return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X';
  });
}

export function childrenOf(pid: number): number[] {
  try {
    const text = readProcFile(`/proc/${pid}/task/${pid}/children`).trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return listPids().filter((candidate) => readProcStat(candidate)?.ppid === pid);
  }
}

/**
 * The sockets listening on a TCP port (/proc/net/tcp and tcp6): each one's local address (IPv4 dotted; IPv6 as the
 * table's 32 hex digits) and inode.
 */
export function listeningSockets(port: number): Array<{ address: string; inode: string }> {
  const sockets: Array<{ address: string; inode: string }> = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const [hexAddress, hexPort] = cols[1].split(':');
      if (parseInt(hexPort ?? '', 16) !== port || cols[3] !== '0A') continue;
      // IPv4 is the 32-bit number in the machine's (little-endian) byte order.
      const address = hexAddress.length === 8 ? (hexAddress.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.') : hexAddress;
      sockets.push({ address, inode: cols[9] });
    }
  }
  return sockets;
}

/** The pid and command of the process listening on a TCP port, when /proc lets us see it. */
export function findPortHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set(listeningSockets(port).map((s) => s.inode));
  if (inodes.size === 0) return undefined;
  for (const pid of listPids()) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match && inodes.has(match[1])) return { pid, command: commandLine(pid) };
    }
  }
  return undefined;
}

export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/**
 * CPU % and resident memory between two samples of the same process. Each process's stat file stays open between
 * samples (one read a sample instead of open, read and close: the stats tick reads one per process each second); an
 * open file names the process it was opened for, so a read fails once that process is gone, whatever takes its pid.
 */
export class UsageSampler {
  private last = new Map<number, { cpuSeconds: number; at: number }>();
  private readonly files = new Map<number, number>();

  sample(pid: number, now = Date.now()): { cpuPercent: number; rssBytes: number } | undefined {
    const stat = this.read(pid);
    if (!stat) {
      this.last.delete(pid);
      return undefined;
    }
    const previous = this.last.get(pid);
    this.last.set(pid, { cpuSeconds: stat.cpuSeconds, at: now });
    const elapsed = previous ? (now - previous.at) / 1000 : 0;
    const cpuPercent = previous && elapsed > 0 ? Math.max(0, ((stat.cpuSeconds - previous.cpuSeconds) / elapsed) * 100) : 0;
    return { cpuPercent, rssBytes: stat.rssBytes };
  }

  /** Only these pids are sampled from now on: the files of the others are closed. */
  forget(pids: Iterable<number>): void {
    const keep = new Set(pids);
    for (const pid of this.last.keys()) if (!keep.has(pid)) this.last.delete(pid);
    for (const pid of this.files.keys()) if (!keep.has(pid)) this.close(pid);
  }

  private read(pid: number): ProcStat | undefined {
    let fd = this.files.get(pid);
    try {
      if (fd === undefined) {
        fd = fs.openSync(`/proc/${pid}/stat`, 'r');
        this.files.set(pid, fd);
      }
      return rereadProcStat(pid, fd);
    } catch {
      this.close(pid);
      return undefined;
    }
  }

  private close(pid: number): void {
    const fd = this.files.get(pid);
    this.files.delete(pid);
    if (fd !== undefined) fs.closeSync(fd);
  }
}
