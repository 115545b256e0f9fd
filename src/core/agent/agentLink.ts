/**
 * The agent's side of one run: its socket in the run's private folder, every process's connections, what they say.
 * A connection joins only when the supervisor admits it (the pid is one of the server's); a worker's data connection
 * becomes its output stream, its control connection carries `ready`, request summaries (`insight`), its stack signal
 * and the supervisor's commands; the master's carries the exits it reaps and the workers Uvicorn kills as hung. A pdb
 * connection (breakpoint() in a worker or the master) is handed on as it joins.
 */
import * as fs from 'node:fs';
import type * as net from 'node:net';
import { Emitter } from '../events';
import type { ExitStatus } from '../model';
import { WorkerStreams } from '../output/workerStreams';
import { AgentServer, type AgentHello, type AgentMessage, type ControlConnection } from './agentServer';

export interface StackSignal {
  signal: number;
  /** The app installed its own handler for it (or reset it): it must not be sent. */
  taken: boolean;
}

/** A connection asking to join: `admit(slot)` during the event takes it (its output goes to `slot`); else it is closed. */
export interface JoinRequest {
  hello: AgentHello;
  admit(slot: number): void;
}

/** A hello with the token, before its peer is checked: `vouch()` during the event if its pid is the server's now. */
export interface ClaimRequest {
  hello: AgentHello;
  vouch(): void;
}

export class AgentLink {
  /** Fired first; a claim no listener vouches for is closed at once, and never joins. */
  readonly onClaim = new Emitter<ClaimRequest>();
  /** Fired once the connection's peer is shown to be the pid the hello claims (and it was vouched for). */
  readonly onJoin = new Emitter<JoinRequest>();
  /** A worker (or a master that serves by itself) can serve. */
  readonly onReady = new Emitter<number>();
  /** The master reaped a child. */
  readonly onExitReport = new Emitter<{ pid: number; status: ExitStatus }>();
  /** A worker's request summary (or a master's that serves by itself): the message as it came. */
  readonly onInsight = new Emitter<{ pid: number; message: AgentMessage }>();
  /** Uvicorn's master is about to kill a worker that failed its health check. */
  readonly onHung = new Emitter<number>();
  /** A pdb session's connection joined, admitted for `slot`; whoever listens owns it (and closes it). */
  readonly onPdb = new Emitter<{ slot: number; connection: ControlConnection }>();
  private readonly controls = new Map<number, ControlConnection>();
  /** The signal that makes a worker dump every thread's stack (faulthandler), once its agent registered it; `taken` once the app took it. */
  private readonly stackSignals = new Map<number, StackSignal>();
  private masterControl: ControlConnection | undefined;
  private server: AgentServer | undefined;

  /** Worker output goes to `streams`. */
  constructor(private readonly streams: WorkerStreams) {}

  /**
   * Listens in the run's private folder; returns the variables that make the agent in the spawned process talk to it.
   * `python`: the server's interpreter (it reads the connections' peer credentials).
   */
  async listen(runtimeDir: string, python: string): Promise<Record<string, string>> {
    this.server = await AgentServer.listen(runtimeDir, {
      claims: (hello) => {
        let vouched = false;
        this.onClaim.fire({ hello, vouch: () => (vouched = true) });
        return vouched;
      },
      onData: (hello, socket, initial) => this.joinData(hello, socket, initial),
      onControl: (connection) => this.joinControl(connection),
      onPdb: (connection) => this.joinPdb(connection),
    }, python);
    return this.server.environment();
  }

  /** Sends a command to a worker's agent and returns its reply; undefined when the worker has no control connection. */
  request(pid: number, message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> | undefined {
    return this.control(pid)?.request(message, timeoutMs);
  }

  /** The stack signal `pid`'s agent registered, and whether the app took it since (see Stacks in docs/agent-protocol.md). */
  stackSignal(pid: number): StackSignal | undefined {
    return this.stackSignals.get(pid);
  }

  /**
   * The stack signal to send `pid` now, checked at use: its agent registered it, the app did not take it, and /proc
   * shows a handler for it (one the app reset to its default action would kill the worker).
   */
  usableStackSignal(pid: number): number | undefined {
    const registered = this.stackSignals.get(pid);
    if (!registered || registered.taken || !hasHandlerFor(pid, registered.signal)) return undefined;
    return registered.signal;
  }

  /** A worker's control connection, or the master's when the master serves by itself. */
  private control(pid: number): ControlConnection | undefined {
    return this.controls.get(pid) ?? (this.masterControl?.hello.pid === pid ? this.masterControl : undefined);
  }

  /** Sends a command to the master's agent and returns its reply; undefined when the master has no control connection. */
  requestMaster(message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> | undefined {
    return this.masterControl?.request(message, timeoutMs);
  }

  send(pid: number, message: AgentMessage): void {
    this.controls.get(pid)?.send(message);
  }

  async close(): Promise<void> {
    this.streams.closeAll();
    for (const control of this.controls.values()) control.close();
    this.controls.clear();
    this.masterControl?.close();
    this.masterControl = undefined;
    await this.server?.close();
  }

  private joinData(hello: AgentHello, socket: net.Socket, initial: Buffer): void {
    const slot = hello.role === 'worker' ? this.askToJoin(hello) : undefined;
    if (slot === undefined) socket.destroy();
    else this.streams.attach(slot, hello.pid, socket, initial);
  }

  private joinControl(connection: ControlConnection): void {
    const { hello } = connection;
    // A process has one control connection: a second claim never replaces one that is open (it is closed instead).
    const open = hello.role === 'master' ? this.masterControl : this.controls.get(hello.pid);
    if (open && !open.closed) {
      connection.close();
      return;
    }
    if (this.askToJoin(hello) === undefined) {
      connection.close();
      return;
    }
    if (hello.role === 'master') {
      this.masterControl = connection;
      connection.onMessage((message) => this.masterMessage(hello.pid, message));
      return;
    }
    this.controls.set(hello.pid, connection);
    connection.onClose(() => {
      if (this.controls.get(hello.pid) !== connection) return;
      this.controls.delete(hello.pid);
      this.stackSignals.delete(hello.pid);
    });
    connection.onMessage((message) => {
      if (message.t === 'insight') this.onInsight.fire({ pid: hello.pid, message });
      else if (message.t === 'ready') this.onReady.fire(hello.pid);
      else if (message.t === 'stack-signal' && isSignalNumber(message.signal)) this.stackSignals.set(hello.pid, { signal: message.signal, taken: message.taken === true });
    });
  }

  private joinPdb(connection: ControlConnection): void {
    const slot = this.askToJoin(connection.hello);
    if (slot === undefined) {
      connection.close();
      return;
    }
    this.onPdb.fire({ slot, connection });
  }

  private sendStackSignal(pid: number): void {
    const signal = this.usableStackSignal(pid);
    try {
      if (signal !== undefined) process.kill(pid, signal);
    } catch {
      // gone already
    }
  }

  private askToJoin(hello: AgentHello): number | undefined {
    let admitted: number | undefined;
    this.onJoin.fire({ hello, admit: (slot) => (admitted = slot) });
    return admitted;
  }

  private masterMessage(masterPid: number, message: AgentMessage): void {
    if (message.t === 'exit' && typeof message.pid === 'number') {
      const status: ExitStatus = {
        code: typeof message.code === 'number' ? message.code : null,
        signal: typeof message.signal === 'string' ? message.signal : null,
      };
      this.onExitReport.fire({ pid: message.pid, status });
    } else if (message.t === 'ready') {
      this.onReady.fire(masterPid);
    } else if (message.t === 'insight') {
      this.onInsight.fire({ pid: masterPid, message });
    } else if (message.t === 'hung' && typeof message.pid === 'number') {
      this.onHung.fire(message.pid);
      this.sendStackSignal(message.pid); // its stacks before Uvicorn's SIGKILL
    }
  }
}

/** A real-time signal (Linux: 34 to 64): the only ones the agent registers, and the only ones worth sending. */
function isSignalNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 32 && value <= 64;
}

/** /proc/PID/status's SigCgt (the signals the process has a handler for) holds `signal`. */
function hasHandlerFor(pid: number, signal: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}
