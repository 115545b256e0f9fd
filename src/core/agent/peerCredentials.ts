/**
 * Who is at the other end of an accepted agent connection: a hello only claims a pid, the kernel's view of the
 * connection proves it. Node has no getsockopt, so the server's own interpreter (`python -I -S`: no site, no
 * environment of the app) asks the kernel, in one of two ways:
 *
 * - a helper that lives as long as the agent's socket asks sock_diag (netlink, the `unix_diag` interface `ss -x`
 *   uses) for the peer of each accepted socket, by inode; the claim holds when /proc/PID/fd of the claimed pid (a
 *   process of this user) holds that peer socket. About a millisecond a connection.
 * - otherwise (the kernel has no unix_diag, the peer is gone already, or another process holds it), a short run
 *   handed the sockets as fds 3, 4, ... prints each one's SO_PEERCRED `pid uid gid` (the process that called
 *   connect(), recorded then: a worker that failed at import right after its hello is still known); sockets that
 *   arrive meanwhile share the next run. It decides.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as readline from 'node:readline';

/** The most sockets one SO_PEERCRED run is handed (each is an fd of the child). */
const BATCH_LIMIT = 64;
/** A run or a helper's answer that has not come by then counts as no answer: the connection is refused. */
const ANSWER_TIMEOUT_MS = 15000;

const PEER_INODE_HELPER = [
  'import socket, struct, sys',
  'try:',
  '    diag = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG',
  'except OSError:',
  '    diag = None',
  'def peer(inode, seq):',
  '    # unix_diag_req for one socket: any state, UDIAG_SHOW_PEER, no cookie',
  '    request = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, 4, 0xFFFFFFFF, 0xFFFFFFFF)',
  '    diag.send(struct.pack("=IHHII", 16 + len(request), 20, 1, seq, 0) + request)  # SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST',
  '    reply = diag.recv(65536)',
  '    length, kind = struct.unpack_from("=IH", reply)',
  '    if kind == 2:  # NLMSG_ERROR: no unix_diag here',
  '        return "?"',
  '    at = 32  # after nlmsghdr and unix_diag_msg',
  '    while at + 4 <= length:',
  '        size, attribute = struct.unpack_from("=HH", reply, at)',
  '        if attribute == 2:  # UNIX_DIAG_PEER',
  '            return str(struct.unpack_from("=I", reply, at + 4)[0])',
  '        at += (size + 3) & ~3',
  '    return "-"',
  'for seq, line in enumerate(sys.stdin, 1):',
  '    inode = int(line)',
  '    try:',
  '        answer = peer(inode, seq) if diag is not None else "?"',
  '    except OSError:',
  '        answer = "?"',
  '    sys.stdout.write("%d %s\\n" % (inode, answer))',
  '    sys.stdout.flush()',
].join('\n');

const PEERCRED_RUN = [
  'import socket, struct, sys',
  'size = struct.calcsize("3i")',
  'for fd in range(3, 3 + int(sys.argv[1])):',
  '    try:',
  '        peer = socket.socket(fileno=fd)',
  '        print("%d %d %d" % struct.unpack("3i", peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size)))',
  '        peer.detach()',
  '    except Exception:',
  '        print("-")',
].join('\n');

interface Pending {
  socket: net.Socket;
  resolve(pid: number | undefined): void;
}

export class PeerCheck {
  private helper: ChildProcess | undefined;
  /** The helper could not answer (no unix_diag, or it died): SO_PEERCRED runs from now on. */
  private noHelper = false;
  private readonly asked = new Map<number, Array<(answer: string) => void>>();
  private readonly queue: Pending[] = [];
  private running: ChildProcess | undefined;
  private closed = false;

  /** `python`: the server's interpreter. */
  constructor(private readonly python: string) {}

  /** Whether the process at the other end of `socket` is `pid`, a process of this user. */
  async isPeer(socket: net.Socket, pid: number): Promise<boolean> {
    if (this.closed) return false;
    const inode = socketInode(socket);
    const answer = inode === undefined || this.noHelper ? '?' : await this.askHelper(inode);
    if (/^[1-9]\d*$/.test(answer) && holdsSocket(pid, Number(answer))) return true;
    return (await this.peerCredentialsPid(socket)) === pid;
  }

  /** Ends the helper and any run under way; what waits is refused. */
  close(): void {
    this.closed = true;
    this.helper?.kill('SIGKILL');
    this.running?.kill('SIGKILL');
    for (const waiting of this.asked.values()) for (const resolve of waiting) resolve('-');
    this.asked.clear();
    for (const pending of this.queue.splice(0)) pending.resolve(undefined);
  }

  private askHelper(inode: number): Promise<string> {
    const helper = this.helper ?? this.startHelper();
    if (!helper) return Promise.resolve('?');
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle('-'), ANSWER_TIMEOUT_MS);
      const settle = (answer: string) => {
        clearTimeout(timer);
        if (answer === '?') this.noHelper = true;
        resolve(answer);
      };
      const waiting = this.asked.get(inode) ?? [];
      waiting.push(settle);
      this.asked.set(inode, waiting);
      helper.stdin!.write(`${inode}\n`);
    });
  }

  private startHelper(): ChildProcess | undefined {
    let helper: ChildProcess;
    try {
      helper = spawn(this.python, ['-I', '-S', '-c', PEER_INODE_HELPER], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      this.noHelper = true;
      return undefined;
    }
    this.helper = helper;
    helper.stdin!.on('error', () => undefined);
    readline.createInterface({ input: helper.stdout! }).on('line', (line) => {
      const [inode, answer] = line.split(' ');
      const waiting = this.asked.get(Number(inode));
      this.asked.delete(Number(inode));
      for (const resolve of waiting ?? []) resolve(answer ?? '-');
    });
    const gone = () => {
      this.noHelper = true; // whatever waits is asked again through SO_PEERCRED
      for (const waiting of this.asked.values()) for (const resolve of waiting) resolve('?');
      this.asked.clear();
    };
    helper.once('error', gone);
    helper.once('exit', gone);
    return helper;
  }

  /** The SO_PEERCRED pid of `socket`'s peer (of this user), from a short run shared with the sockets that wait. */
  private peerCredentialsPid(socket: net.Socket): Promise<number | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.queue.push({ socket, resolve });
      if (!this.running) this.runNext();
    });
  }

  private runNext(): void {
    const batch = this.queue.splice(0, BATCH_LIMIT).filter((pending) => {
      if (!pending.socket.destroyed) return true;
      pending.resolve(undefined);
      return false;
    });
    if (batch.length === 0 || this.closed) return;
    let settled = false;
    const finish = (lines: string[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.running = undefined;
      batch.forEach((pending, index) => pending.resolve(pidOfCredentials(lines[index])));
      if (this.queue.length > 0) this.runNext();
    };
    let child: ChildProcess;
    try {
      child = spawn(this.python, ['-I', '-S', '-c', PEERCRED_RUN, String(batch.length)], {
        stdio: ['ignore', 'pipe', 'ignore', ...batch.map((pending) => pending.socket)],
      });
    } catch {
      finish([]);
      return;
    }
    this.running = child;
    const timer = setTimeout(() => child.kill('SIGKILL'), ANSWER_TIMEOUT_MS);
    let output = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => (output += text));
    child.once('error', () => finish([]));
    child.once('close', (code) => finish(code === 0 ? output.split('\n') : []));
  }
}

/** The inode of the socket Node holds for `socket` (fstat of its fd), or undefined when its fd cannot be read. */
function socketInode(socket: net.Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return fs.fstatSync(fd).ino;
  } catch {
    return undefined;
  }
}

/** `pid` is a process of this user that holds the socket of inode `inode` (one of its fds). */
function holdsSocket(pid: number, inode: number): boolean {
  try {
    if (fs.statSync(`/proc/${pid}`).uid !== process.getuid?.()) return false;
    const target = `socket:[${inode}]`;
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false;
  }
}

/** The pid of a SO_PEERCRED line `pid uid gid` when the uid is this user's. */
function pidOfCredentials(line: string | undefined): number | undefined {
  const match = /^(\d+) (\d+) (\d+)$/.exec(line ?? '');
  if (!match) return undefined;
  const [pid, uid] = match.slice(1, 3).map(Number);
  return pid > 0 && uid === process.getuid?.() ? pid : undefined;
}
