/**
 * The workers' output, as the agent delivers it: one data connection per worker (its fds 1 and 2), read with few
 * wake-ups (one read beat for all of a server's sockets: coalescedReads.ts) and split into lines. Reports each read's
 * lines, and when the last connection of a pid closes.
 */
import type * as net from 'node:net';
import { Emitter } from '../events';
import { onCoalescedData, ReadPacer } from './coalescedReads';
import { LineSplitter } from '../lineSplitter';

export interface WorkerLines {
  slot: number;
  pid: number;
  lines: string[];
}

export class WorkerStreams {
  /** One event per read, with all its lines: a flood arrives in 64 KiB reads of about a thousand lines each. */
  readonly onLines = new Emitter<WorkerLines>();
  /** Every data connection of this pid has closed (the worker exited, or is exiting). */
  readonly onClosed = new Emitter<number>();
  /** One beat for the rests of all this server's worker sockets: their reads share a wake-up. */
  private readonly pacer = new ReadPacer();
  private readonly sockets = new Map<number, Set<net.Socket>>();

  /** Reads a worker's data connection; `initial` holds bytes that came with its hello. */
  attach(slot: number, pid: number, socket: net.Socket, initial: Buffer): void {
    let open = this.sockets.get(pid);
    if (!open) {
      open = new Set();
      this.sockets.set(pid, open);
    }
    open.add(socket);
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const take = (chunk?: Buffer) => {
      if (chunk) splitter.push(chunk);
      else splitter.end();
      if (lines.length > 0) this.onLines.fire({ slot, pid, lines: lines.splice(0) });
    };
    if (initial.length > 0) take(initial);
    onCoalescedData(socket, take, this.pacer);
    socket.on('close', () => {
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
