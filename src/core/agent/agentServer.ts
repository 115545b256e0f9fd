/**
 * The supervisor's end of the agent protocol (docs/agent-protocol.md): a Unix socket in a private directory. A
 * connection is handed on once its hello has the token and its peer's credentials (SO_PEERCRED) show the pid the
 * hello claims, of this user: a process that has the token cannot speak for another.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import { LineSplitter } from '../lineSplitter';
import { agentSocketPath } from '../process/runtimeDirs';
import { PeerCheck } from './peerCredentials';

export interface AgentHello {
  /** data: a worker's output; control: JSON messages both ways; pdb: one pdb session's JSON messages both ways. */
  channel: 'data' | 'control' | 'pdb';
  role: 'master' | 'worker';
  pid: number;
  ppid: number;
}

export type AgentMessage = { t: string; id?: number; [key: string]: unknown };

const MAX_HELLO_BYTES = 4096;
const HELLO_TIMEOUT_MS = 5000;

/** A control connection: JSON lines both ways, with request/reply by id. */
export class ControlConnection {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: AgentMessage) => void>();
  private messageListener: (message: AgentMessage) => void = () => undefined;
  private closeListener: () => void = () => undefined;

  constructor(readonly hello: AgentHello, private readonly socket: net.Socket, initial: Buffer) {
    const splitter = new LineSplitter((line) => this.receive(line));
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('close', () => {
      for (const resolve of this.pending.values()) resolve({ t: 'closed' });
      this.pending.clear();
      this.closeListener();
    });
    socket.on('error', () => undefined);
    if (initial.length > 0) queueMicrotask(() => splitter.push(initial));
  }

  onMessage(listener: (message: AgentMessage) => void): void {
    this.messageListener = listener;
  }

  onClose(listener: () => void): void {
    this.closeListener = listener;
  }

  send(message: AgentMessage): void {
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  request(message: AgentMessage, timeoutMs = 10000): Promise<AgentMessage> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`The agent in process ${this.hello.pid} did not answer "${message.t}" within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send({ ...message, id });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  private receive(line: string): void {
    let message: AgentMessage;
    try {
      message = JSON.parse(line) as AgentMessage;
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return;
    const waiting = message.id !== undefined ? this.pending.get(message.id) : undefined;
    if (waiting && message.id !== undefined) {
      this.pending.delete(message.id);
      waiting(message);
    } else {
      this.messageListener(message);
    }
  }
}

export interface AgentServerHandlers {
  /**
   * A hello with the token: may its pid be one of the server's? Asked before the peer's credentials are read (that
   * takes a moment: a worker that dies meanwhile is gone from /proc), and a claim answered no is closed at once.
   */
  claims(hello: AgentHello): boolean;
  /** A worker's output stream; `initial` holds bytes that arrived with the hello. */
  onData(hello: AgentHello, socket: net.Socket, initial: Buffer): void;
  onControl(connection: ControlConnection): void;
  /** A pdb session (breakpoint() in a worker): JSON lines both ways, like a control connection. */
  onPdb(connection: ControlConnection): void;
}

export class AgentServer {
  readonly token = randomBytes(16).toString('hex');
  readonly socketPath: string;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly peers: PeerCheck;

  /** `python`: the server's interpreter (it reads the peers' credentials). */
  private constructor(readonly runtimeDir: string, private readonly handlers: AgentServerHandlers, python: string) {
    this.peers = new PeerCheck(python);
    this.socketPath = agentSocketPath(runtimeDir);
    // highWaterMark 1: a paused socket reads at most one chunk ahead (during the hello, and in a rest where the handle
    // itself cannot be stopped: see SocketReads in coalescedReads.ts).
    this.server = net.createServer({ highWaterMark: 1 }, (socket) => this.accept(socket));
  }

  /** Listens in `dir`, a private (0700) directory of the server run. */
  static async listen(dir: string, handlers: AgentServerHandlers, python: string): Promise<AgentServer> {
    const agentServer = new AgentServer(dir, handlers, python);
    await new Promise<void>((resolve, reject) => {
      agentServer.server.once('error', reject);
      agentServer.server.listen(agentServer.socketPath, () => resolve());
    });
    return agentServer;
  }

  /** The variables that make the agent in the spawned process talk to this server. */
  environment(): Record<string, string> {
    return { SERVER_WORKERS_SOCKET: this.socketPath, SERVER_WORKERS_TOKEN: this.token };
  }

  async close(): Promise<void> {
    this.peers.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const onChunk = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(10);
      if (newline === -1) {
        if (buffered.length > MAX_HELLO_BYTES) socket.destroy();
        return;
      }
      clearTimeout(timer);
      socket.off('data', onChunk);
      socket.pause();
      const hello = this.parseHello(buffered.subarray(0, newline).toString('utf8'));
      if (!hello) {
        socket.destroy();
        return;
      }
      const rest = buffered.subarray(newline + 1);
      if (!this.handlers.claims(hello)) {
        socket.destroy();
        return;
      }
      void this.peers.isPeer(socket, hello.pid).then((isPeer) => {
        if (socket.destroyed) return;
        if (!isPeer) {
          socket.destroy();
          return;
        }
        this.handOn(hello, socket, rest);
      });
    };
    socket.on('data', onChunk);
  }

  private handOn(hello: AgentHello, socket: net.Socket, rest: Buffer): void {
    if (hello.channel === 'data') this.handlers.onData(hello, socket, rest);
    else if (hello.channel === 'pdb') this.handlers.onPdb(new ControlConnection(hello, socket, rest));
    else this.handlers.onControl(new ControlConnection(hello, socket, rest));
    socket.resume();
  }

  private parseHello(line: string): AgentHello | undefined {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    // "null" is JSON too: reading a field of it threw in the socket's handler, and so in the supervising process.
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
    const token = Buffer.from(typeof raw.token === 'string' ? raw.token : '');
    const expected = Buffer.from(this.token);
    if (token.length !== expected.length || !timingSafeEqual(token, expected)) return undefined;
    if (raw.channel !== 'data' && raw.channel !== 'control' && raw.channel !== 'pdb') return undefined;
    if (raw.role !== 'master' && raw.role !== 'worker') return undefined;
    if (!Number.isInteger(raw.pid) || !Number.isInteger(raw.ppid)) return undefined;
    return { channel: raw.channel, role: raw.role, pid: raw.pid as number, ppid: raw.ppid as number };
  }
}
