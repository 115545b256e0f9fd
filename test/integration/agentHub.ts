/**
 * The supervisor's end of the agent's socket (docs/agent-protocol.md) for the agent's integration tests: a plain `net`
 * server in a private folder that records each connection's hello, its control messages and its data stream.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

interface Hello {
  token: string;
  channel: 'data' | 'control';
  role: 'master' | 'worker';
  pid: number;
  ppid: number;
}

type Message = { t: string; [key: string]: unknown };

class AgentConnection {
  hello: Hello | undefined;
  readonly messages: Message[] = [];
  /** Control lines that were not JSON (the hub never throws from a socket event). */
  readonly errors: string[] = [];
  private pending = Buffer.alloc(0);
  private readonly dataChunks: Buffer[] = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  /** Everything after the hello on a data connection. */
  get text(): string {
    return Buffer.concat(this.dataChunks).toString('utf8');
  }

  send(message: Record<string, unknown>): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  private receive(chunk: Buffer): void {
    if (this.hello?.channel === 'data') {
      this.dataChunks.push(chunk);
      return;
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    for (let newline = this.pending.indexOf(10); newline !== -1; newline = this.pending.indexOf(10)) {
      const line = this.pending.subarray(0, newline).toString('utf8');
      this.pending = this.pending.subarray(newline + 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.errors.push(`not JSON: ${JSON.stringify(line)}`);
        continue;
      }
      if (!this.hello) {
        this.hello = parsed as Hello;
        if (this.hello.channel === 'data') {
          if (this.pending.length > 0) this.dataChunks.push(this.pending);
          this.pending = Buffer.alloc(0);
          return;
        }
      } else {
        this.messages.push(parsed as Message);
      }
    }
  }
}

export class AgentHub {
  readonly token = randomBytes(16).toString('hex');
  readonly connections: AgentConnection[] = [];
  readonly dir = privateDir();
  readonly socketPath = path.join(this.dir, 'agent.sock');
  private readonly server = net.createServer((socket) => this.connections.push(new AgentConnection(socket)));

  static async start(): Promise<AgentHub> {
    const hub = new AgentHub();
    await new Promise<void>((resolve, reject) => {
      hub.server.once('error', reject);
      hub.server.listen(hub.socketPath, () => resolve());
    });
    return hub;
  }

  with(filter: Partial<Hello>): AgentConnection[] {
    return this.connections.filter(
      (c) => c.hello !== undefined && Object.entries(filter).every(([key, value]) => c.hello![key as keyof Hello] === value),
    );
  }

  /** The one master control connection (fails when there are several). */
  master(): AgentConnection | undefined {
    const masters = this.with({ role: 'master' });
    assert.ok(masters.length <= 1, `expected one master connection, got ${masters.length}`);
    return masters[0];
  }

  workerPids(): number[] {
    return [...new Set(this.with({ role: 'worker' }).map((c) => c.hello!.pid))];
  }

  data(pid: number): AgentConnection | undefined {
    return this.with({ role: 'worker', channel: 'data', pid })[0];
  }

  control(pid: number): AgentConnection | undefined {
    return this.with({ role: 'worker', channel: 'control', pid })[0];
  }

  isReady(pid: number): boolean {
    return this.control(pid)?.messages.some((m) => m.t === 'ready') ?? false;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function privateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-agent-'));
  fs.chmodSync(dir, 0o700);
  return dir;
}
