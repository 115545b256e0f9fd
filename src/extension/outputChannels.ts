/** One output channel per worker slot (and one for the master) of each server; appends are batched and bounded. */
import * as vscode from 'vscode';
import type { OutputEvent } from '../core/supervisor';
import type { ServerRegistry } from './serverRegistry';

/**
 * A channel gets an append at most this often: the first line after a quiet spell goes out at once, the lines that
 * follow within this time go together (a flood makes 40 appends a second per channel, not one per line). Keeps a
 * line's way from the worker to the channel under 50 ms (npm run bench, log latency).
 */
const FLUSH_INTERVAL_MS = 25;
/**
 * A channel keeps at least this many of its newest lines and at most twice as many: when it reaches twice, it drops
 * the oldest down to this (and says so), so a log flood cannot exhaust the window's memory.
 */
export const CHANNEL_LINE_LIMIT = 20000;

export function channelName(serverName: string, slot: number): string {
  return slot === 0 ? `${serverName} · master` : `${serverName} · worker ${slot}`;
}

/** A channel's last lines, as the channel shows them. */
class ChannelBuffer {
  private lines: string[] = [];
  pending: string[] = [];
  dropped = 0;
  total = 0;

  add(lines: string[]): void {
    this.pending.push(...lines);
    this.lines.push(...lines);
    this.total += lines.length;
    // Trim in amortized batches: let it grow to twice the limit, then cut back to the limit.
    if (this.lines.length > 2 * CHANNEL_LINE_LIMIT) {
      const excess = this.lines.length - CHANNEL_LINE_LIMIT;
      this.lines = this.lines.slice(excess);
      this.dropped += excess;
    }
  }

  text(): string[] {
    return this.lines;
  }
}

export class WorkerChannels implements vscode.Disposable {
  /** Channels by name: a restarted server (same name) continues its channels. */
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly buffers = new Map<string, ChannelBuffer>();
  private shownDropped = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(registry: ServerRegistry) {
    this.subscriptions.push(
      registry.onDidAdd(({ supervisor }) => {
        const off = supervisor.onOutput.on((event) => this.append(supervisor.name, event));
        this.subscriptions.push({ dispose: off });
      }),
    );
  }

  /** Lines appended to a channel so far. */
  lineCount(serverName: string, slot: number): number {
    return this.buffers.get(channelName(serverName, slot))?.total ?? 0;
  }

  /** The lines a channel holds now (the newest; see CHANNEL_LINE_LIMIT). */
  lines(serverName: string, slot: number): string[] {
    return this.buffers.get(channelName(serverName, slot))?.text() ?? [];
  }

  show(serverName: string, slot: number): void {
    this.flush();
    this.channel(channelName(serverName, slot)).show(true);
  }

  private append(serverName: string, event: OutputEvent): void {
    const name = channelName(serverName, event.slot);
    let buffer = this.buffers.get(name);
    if (!buffer) {
      buffer = new ChannelBuffer();
      this.buffers.set(name, buffer);
    }
    buffer.add(event.lines);
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.lastFlush + FLUSH_INTERVAL_MS - Date.now()));
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlush = Date.now();
    for (const [name, buffer] of this.buffers) {
      if (buffer.pending.length === 0) continue;
      const channel = this.channel(name);
      if (buffer.dropped !== (this.shownDropped.get(name) ?? 0)) {
        // A trim happened (once per CHANNEL_LINE_LIMIT lines): show the kept lines, saying how many were dropped.
        this.shownDropped.set(name, buffer.dropped);
        channel.replace(`── ${buffer.dropped} older lines dropped: a channel keeps the last ${CHANNEL_LINE_LIMIT} to ${2 * CHANNEL_LINE_LIMIT} lines ──\n${buffer.text().join('\n')}\n`);
      } else {
        channel.append(`${buffer.pending.join('\n')}\n`);
      }
      buffer.pending = [];
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
