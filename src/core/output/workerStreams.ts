/**
 * The workers' output, as the agent delivers it: one data connection per worker (its fds 1 and 2), read with few
 * wake-ups (one read beat for all of a server's sockets: coalescedReads.ts) and split into lines; a line left
 * without its newline goes out when the worker has been quiet for a moment (openLines.ts). Reports each read's
 * lines, and when the last connection of a pid closes.
 */
import type * as net from 'node:net';
import { Emitter } from '../events';
import { LineSplitter, PIECE_CONTINUED, PIECE_OPEN } from '../lineSplitter';
import { onCoalescedData, ReadPacer } from './coalescedReads';
import { OpenLineFlusher } from '../openLines';

export interface WorkerLines {
  slot: number;
  pid: number;
  lines: string[];
  /** The last line has no newline yet: the next event of this stream continues it. */
  partial?: boolean;
  /** The first line continues the previous event's partial line. */
  continues?: boolean;
}

export class WorkerStreams {
  /** One event per read, with all its lines: a flood arrives in 64 KiB reads of about a thousand lines each. */
  readonly onLines = new Emitter<WorkerLines>();
  /** Every data connection of this pid has closed (the worker exited, or is exiting). */
  readonly onClosed = new Emitter<number>();
  /** One beat for the rests of all this server's worker sockets: their reads share a wake-up. */
  private readonly pacer = new ReadPacer();
  /** One timer for the partial lines of all this server's worker sockets. */
  private readonly openLines = new OpenLineFlusher();
  private readonly sockets = new Map<number, Set<net.Socket>>();

  /** Resolves true once a line of `pid` matches `predicate`, false after `timeoutMs`. */
  awaitLine(pid: number, predicate: (line: string) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const settle = (found: boolean) => {
        clearTimeout(timer);
        off();
        resolve(found);
      };
      const timer = setTimeout(() => settle(false), timeoutMs);
      const off = this.onLines.on((event) => {
        if (event.pid === pid && event.lines.some(predicate)) settle(true);
      });
    });
  }

  /** Reads a worker's data connection; `initial` holds bytes that came with its hello. */
  attach(slot: number, pid: number, socket: net.Socket, initial: Buffer): void {
    let open = this.sockets.get(pid);
    if (!open) {
      open = new Set();
      this.sockets.set(pid, open);
    }
    open.add(socket);
    let lines: string[] = [];
    let continues = false;
    const fire = (partial: boolean) => {
      if (lines.length === 0) return;
      const event: WorkerLines = { slot, pid, lines };
      if (continues) event.continues = true;
      if (partial) event.partial = true;
      lines = [];
      continues = false;
      this.onLines.fire(event);
    };
    // An open piece ends its event: a continued piece is always the first line of one.
    const splitter = new LineSplitter((line, piece) => {
      if (piece & PIECE_CONTINUED) continues = true;
      lines.push(line);
      if (piece & PIECE_OPEN) fire(true);
    });
    const source = { get hasPartial() { return splitter.hasPartial; }, flush: () => splitter.flush() };
    const take = (chunk?: Buffer) => {
      if (chunk) splitter.push(chunk);
      else splitter.end();
      fire(false);
      if (chunk) this.openLines.afterRead(source);
    };
    if (initial.length > 0) take(initial);
    onCoalescedData(socket, take, this.pacer);
    socket.on('close', () => {
      this.openLines.forget(source);
      take();
      const remaining = this.sockets.get(pid);
      remaining?.delete(socket);
      if (remaining?.size === 0) {
        this.sockets.delete(pid);
        this.onClosed.fire(pid);
      }
    });
  }

  /** Settles once every data connection of `pid` has closed (at once when it has none), or after `timeoutMs`. */
  whenClosed(pid: number, timeoutMs: number): Promise<void> {
    if (!this.sockets.has(pid)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const off = this.onClosed.on((closed) => {
        if (closed === pid) done();
      });
    });
  }

  /** Closes every connection (the run is over). */
  closeAll(): void {
    for (const open of this.sockets.values()) for (const socket of open) socket.destroy();
  }
}
