/** One output channel per worker slot (and one for the master) of each server; appends are batched and bounded. */
import * as vscode from 'vscode';
import { READ_REST_MS } from '../core/output/coalescedReads';
import { LineTail } from '../core/output/lineTail';
import { separateLines } from '../core/output/separateLines';
import { TurnEndThrottle } from '../core/output/turnEndThrottle';
import type { OutputEvent } from '../core/supervisor';
import { onCore, type ServerRegistry } from './serverRegistry';

/**
 * A channel gets an append at most this often: the first line after a quiet spell goes out at once, the lines that
 * follow within this time go together (a flood makes 40 appends a second per channel, not one per line). The same as
 * the server's read beat, so that a beat's lines find the channel ready for them (see `flushes`). Keeps a line's
 * way from the worker to the channel under 35 ms (npm run bench, log latency).
 */
const FLUSH_INTERVAL_MS = READ_REST_MS;
/**
 * A channel holds at most CHANNEL_LINES_MAX lines, so a log flood cannot exhaust the window's memory: past it, the
 * oldest are dropped down to CHANNEL_LINES_KEPT and the channel is replaced by the kept lines (saying how many were
 * dropped). Each trim resends the kept lines: kept = a quarter of the maximum resends a third of a flood's volume
 * (with half, all of it, and the flood's memory growth was +42 to +62 MB instead of +35 to +42: npm run bench).
 */
export const CHANNEL_LINES_MAX = 40000;
export const CHANNEL_LINES_KEPT = 10000;

export function channelName(serverName: string, slot: number): string {
  return slot === 0 ? `${serverName} · master` : `${serverName} · worker ${slot}`;
}

export class WorkerChannels implements vscode.Disposable {
  /** Channels by name: a restarted server (same name) continues its channels. */
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly buffers = new Map<string, LineTail>();
  private shownDropped = new Map<string, number>();
  /** The stream (pid and pipe) whose line a channel's open last line is: only its continuation joins it. */
  private openStreams = new Map<string, string>();
  /**
   * A server's read beat reads all its workers in one turn of the event loop: a flush at the turn's end takes all of
   * their lines, also when the beat's timer and the flush's expire together.
   */
  private readonly flushes = new TurnEndThrottle(FLUSH_INTERVAL_MS, () => this.writeUnread());
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(registry: ServerRegistry) {
    this.subscriptions.push(
      registry.onDidAdd(({ supervisor, disposables }) => disposables.push(onCore(supervisor.onOutput, (event) => this.append(supervisor.name, event)))),
    );
  }

  /** Lines appended to a channel so far. */
  lineCount(serverName: string, slot: number): number {
    return this.buffers.get(channelName(serverName, slot))?.total ?? 0;
  }

  /** The lines a channel holds now (the newest; see CHANNEL_LINES_MAX). */
  lines(serverName: string, slot: number): string[] {
    return this.buffers.get(channelName(serverName, slot))?.lines() ?? [];
  }

  show(serverName: string, slot: number): void {
    this.flush();
    this.channel(channelName(serverName, slot)).show(true);
  }

  private append(serverName: string, event: OutputEvent): void {
    const name = channelName(serverName, event.slot);
    let buffer = this.buffers.get(name);
    if (!buffer) {
      buffer = new LineTail(CHANNEL_LINES_KEPT, CHANNEL_LINES_MAX);
      this.buffers.set(name, buffer);
    }
    this.push(name, buffer, event);
    this.flushes.request();
  }

  /**
   * A line without its newline is shown at once; its rest continues the same line in the channel. When the channel
   * has moved on (another stream wrote meanwhile), the rest starts a line of its own, marked as a continuation.
   */
  private push(name: string, buffer: LineTail, event: OutputEvent): void {
    let lines = event.lines;
    let join = false;
    if (event.continues || event.partial) {
      const stream = `${event.pid}/${event.stream ?? ''}`;
      if (event.continues) {
        join = buffer.endsOpen && this.openStreams.get(name) === stream;
        if (!join) lines = separateLines(event);
      }
      if (event.partial) this.openStreams.set(name, stream);
    }
    buffer.push(lines, join, event.partial === true);
  }

  flush(): void {
    this.flushes.runNow();
  }

  private writeUnread(): void {
    for (const [name, buffer] of this.buffers) {
      if (!buffer.hasUnread()) continue;
      const channel = this.channel(name);
      if (buffer.dropped !== (this.shownDropped.get(name) ?? 0)) {
        // A trim happened: show the kept lines, saying how many were dropped.
        this.shownDropped.set(name, buffer.dropped);
        buffer.skipUnread();
        channel.replace(`── ${buffer.dropped} older lines dropped: a channel keeps the last ${CHANNEL_LINES_KEPT} to ${CHANNEL_LINES_MAX} lines ──\n${buffer.text()}`);
      } else {
        channel.append(buffer.takeUnread());
      }
    }
  }

  private channel(name: string): vscode.OutputChannel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = vscode.window.createOutputChannel(name);
      this.channels.set(name, channel);
    }
    return channel;
  }

  dispose(): void {
    this.flush();
    for (const subscription of this.subscriptions) subscription.dispose();
    for (const channel of this.channels.values()) channel.dispose();
    this.channels.clear();
  }
}
