/** A small Debug Adapter Protocol client over a Unix socket, enough to attach to debugpy and drive a breakpoint. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface DapMessage {
  seq: number;
  type: 'request' | 'response' | 'event';
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  message?: string;
  body?: DapBody;
}

/** The fields of message bodies this client reads; the rest stays unknown. */
export interface DapBody {
  reason?: string;
  threadId?: number;
  stackFrames?: Array<{ name: string; line: number; source?: { path?: string } }>;
  breakpoints?: Array<{ verified: boolean; line: number }>;
  [key: string]: unknown;
}

/**
 * The socket of a `debug` reply, checked: no TCP endpoint; `dbg-<pid>.sock`, mode 0600, in a folder of this user that
 * only it can enter (mode 0700).
 */
export function debugSocketOf(reply: Record<string, unknown>, pid: number): string {
  assert.strictEqual(reply.t, 'debug', `the agent started debugpy: ${JSON.stringify(reply)}`);
  assert.strictEqual(reply.pid, pid, 'the reply comes from the worker asked');
  assert.ok(!('port' in reply) && !('host' in reply), `no TCP endpoint in the reply: ${JSON.stringify(reply)}`);
  const socketPath = reply.path;
  assert.ok(typeof socketPath === 'string', `the reply names a socket: ${JSON.stringify(reply)}`);
  assert.strictEqual(path.basename(socketPath), `dbg-${pid}.sock`);
  const folder = fs.lstatSync(path.dirname(socketPath));
  assert.ok(folder.isDirectory(), 'in a real folder, not a symlink');
  assert.strictEqual(folder.uid, process.getuid?.(), 'in a folder of this user');
  assert.strictEqual(folder.mode & 0o777, 0o700, 'in a folder only this user can enter');
  const socket = fs.lstatSync(socketPath);
  assert.ok(socket.isSocket(), `${socketPath} is a Unix socket`);
  assert.strictEqual(socket.mode & 0o777, 0o600, 'the socket is this user\'s only');
  return socketPath;
}

/**
 * Which worker accepts a connection cannot be chosen: calls `send` every 25 ms (at most 200 times) until a breakpoint
 * stops the client's worker. Resolves with the `stopped` event and what every call returned.
 */
export async function sendUntilStopped<T>(client: DapClient, send: () => Promise<T>): Promise<{ event: DapMessage; sent: Array<Promise<T>> }> {
  const stopped = client.waitForEvent('stopped', (e) => e.body?.reason === 'breakpoint', 30000);
  let hit = false;
  void stopped.then(() => (hit = true), () => undefined);
  const sent: Array<Promise<T>> = [];
  for (let i = 0; i < 200 && !hit; i++) {
    sent.push(send());
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { event: await stopped, sent };
}

/** The thread of a `stopped` event. */
export function threadOf(event: DapMessage): number {
  const threadId = event.body?.threadId;
  if (typeof threadId !== 'number') throw new Error(`no threadId in ${JSON.stringify(event)}`);
  return threadId;
}

interface Pending {
  resolve: (message: DapMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface EventWaiter {
  match: (message: DapMessage) => boolean;
  resolve: (message: DapMessage) => void;
}

export class DapClient {
  private seq = 1;
  private buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Set<EventWaiter>();
  /** Every event received, in order. */
  readonly events: DapMessage[] = [];
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => {
      this.closed = true;
      for (const pending of this.pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new Error('the debug adapter closed the connection'));
      }
      this.pending.clear();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to a debugger's Unix socket (debugpy's in-process DAP server in a worker). */
  static connect(socketPath: string, timeoutMs = 10000): Promise<DapClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to the debugger at ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new DapClient(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Sends a request; resolves with its response (rejects when it failed or timed out). */
  request(command: string, args?: unknown, timeoutMs = 15000): Promise<DapMessage> {
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`no response to "${command}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, {
        resolve: (response) => (response.success ? resolve(response) : reject(new Error(`"${command}" failed: ${response.message ?? JSON.stringify(response.body)}`))),
        reject,
        timer,
      });
      this.write({ seq, type: 'request', command, arguments: args });
    });
  }

  /** The first event named `event` (already received or coming) that `match` accepts. */
  waitForEvent(event: string, match: (message: DapMessage) => boolean = () => true, timeoutMs = 15000, since = 0): Promise<DapMessage> {
    const seen = this.events.slice(since).find((m) => m.event === event && match(m));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: EventWaiter = {
        match: (m) => m.event === event && match(m),
        resolve: (m) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no "${event}" event within ${timeoutMs} ms (events: ${this.events.map((e) => e.event).join(', ')})`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /**
   * debugpy's attach sequence: initialize, attach, (initialized) setBreakpoints per file, configurationDone. The
   * attach response may come before or after configurationDone (pydevd's own DAP server answers it at once).
   */
  async attach(breakpoints: Record<string, number[]>, attachArgs: Record<string, unknown> = {}): Promise<void> {
    await this.request('initialize', {
      clientID: 'server-workers-tests',
      adapterID: 'debugpy',
      pathFormat: 'path',
      linesStartAt1: true,
      columnsStartAt1: true,
      supportsRunInTerminalRequest: false,
    });
    const attached = this.request('attach', { justMyCode: false, ...attachArgs }, 30000);
    attached.catch(() => undefined);
    await this.waitForEvent('initialized');
    for (const [file, lines] of Object.entries(breakpoints)) {
      const response = await this.request('setBreakpoints', { source: { path: file }, breakpoints: lines.map((line) => ({ line })) });
      const verified = response.body?.breakpoints ?? [];
      if (!verified.every((b) => b.verified)) throw new Error(`breakpoints not verified in ${file}: ${JSON.stringify(verified)}`);
    }
    await this.request('setExceptionBreakpoints', { filters: [] });
    await this.request('configurationDone');
    await attached;
  }

  /** The top frame of a stopped thread. */
  async topFrame(threadId: number): Promise<{ name: string; line: number; source?: { path?: string } }> {
    const response = await this.request('stackTrace', { threadId, startFrame: 0, levels: 1 });
    const frame = response.body?.stackFrames?.[0];
    if (!frame) throw new Error(`no stack frame for thread ${threadId}`);
    return frame;
  }

  async disconnect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.request('disconnect', { restart: false, terminateDebuggee: false }, 5000);
    } catch {
      // the adapter may close first
    }
    this.close();
  }

  close(): void {
    this.socket.destroy();
  }

  private write(message: Record<string, unknown>): void {
    const json = Buffer.from(JSON.stringify(message), 'utf8');
    this.socket.write(Buffer.concat([Buffer.from(`Content-Length: ${json.length}\r\n\r\n`, 'ascii'), json]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const header = this.buffer.subarray(0, headerEnd).toString('ascii');
      const length = Number(/Content-Length: *(\d+)/i.exec(header)?.[1]);
      if (!Number.isFinite(length)) {
        this.socket.destroy(new Error(`bad DAP header: ${header}`));
        return;
      }
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(JSON.parse(body) as DapMessage);
    }
  }

  private dispatch(message: DapMessage): void {
    if (message.type === 'response' && message.request_seq !== undefined) {
      const pending = this.pending.get(message.request_seq);
      if (pending) {
        this.pending.delete(message.request_seq);
        clearTimeout(pending.timer);
        pending.resolve(message);
      }
    } else if (message.type === 'event') {
      this.events.push(message);
      for (const waiter of [...this.waiters]) if (waiter.match(message)) waiter.resolve(message);
    } else if (message.type === 'request') {
      // Reverse requests (runInTerminal, startDebugging): not supported here.
      this.write({ seq: this.seq++, type: 'response', request_seq: message.seq, command: message.command, success: false, message: 'not supported' });
    }
  }
}
