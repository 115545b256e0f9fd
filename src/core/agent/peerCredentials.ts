/**
 * Who is at the other end of an accepted agent connection, as the kernel recorded it at connect() (Linux's
 * SO_PEERCRED): a hello only claims a pid, the peer's credentials prove it. Node has no getsockopt, so a short
 * `python -I -S` run (the server's own interpreter, started with no site and no environment of the app) is handed the
 * sockets as its fds 3, 4, ... and prints `pid uid gid` for each. Sockets that arrive while a run is under way wait for
 * the next one: a worker's data and control connections usually share a run.
 */
import { spawn } from 'node:child_process';
import type * as net from 'node:net';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The most sockets one run is handed (each is an fd of the child). */
const BATCH_LIMIT = 64;
/** A run that has not answered by then is killed: its sockets have no credentials (they are refused). */
const RUN_TIMEOUT_MS = 15000;

const SCRIPT = [
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
  resolve(credentials: PeerCredentials | undefined): void;
}

export class PeerCredentialsReader {
  private queue: Pending[] = [];
  private running: { kill(): void } | undefined;
  private closed = false;

  /** `python`: the server's interpreter. */
  constructor(private readonly python: string) {}

  /** The credentials of `socket`'s peer; undefined when they cannot be read (the connection must then be refused). */
  read(socket: net.Socket): Promise<PeerCredentials | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.queue.push({ socket, resolve });
      if (!this.running) this.runNext();
    });
  }

  /** Ends a run under way; what waits gets no credentials. */
  close(): void {
    this.closed = true;
    this.running?.kill();
    for (const pending of this.queue.splice(0)) pending.resolve(undefined);
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
      batch.forEach((pending, index) => pending.resolve(parseCredentials(lines[index])));
      if (this.queue.length > 0) this.runNext();
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(this.python, ['-I', '-S', '-c', SCRIPT, String(batch.length)], {
        stdio: ['ignore', 'pipe', 'ignore', ...batch.map((pending) => pending.socket)],
      });
    } catch {
      finish([]);
      return;
    }
    this.running = { kill: () => child.kill('SIGKILL') };
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    let output = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => (output += text));
    child.once('error', () => finish([]));
    child.once('close', (code) => finish(code === 0 ? output.split('\n') : []));
  }
}

function parseCredentials(line: string | undefined): PeerCredentials | undefined {
  const match = /^(\d+) (\d+) (\d+)$/.exec(line ?? '');
  if (!match) return undefined;
  const [pid, uid, gid] = match.slice(1).map(Number);
  return pid > 0 ? { pid, uid, gid } : undefined;
}
