/** One output channel per worker slot (and one for the master) of each server; appends are batched and bounded. */
import * as vscode from 'vscode';
import { READ_REST_MS } from '../core/output/coalescedReads';
import { HISTORY_LINES_KEPT, HISTORY_LINES_MAX } from '../core/history/lineHistory';
import type { LineTail } from '../core/output/lineTail';
import { TurnEndThrottle } from '../core/output/turnEndThrottle';
import type { OutputEvent, Supervisor } from '../core/supervisor';
import { onCore, type ServerRegistry } from './serverRegistry';

/**
 * A channel gets an append at most this often: the first line after a quiet spell goes out at once, the lines that
 * follow within this time go together (a flood makes 40 appends a second per channel, not one per line). The same as
 * the server's read beat, so that a beat's lines find the channel ready for them (see `flushes`). Keeps a line's
 * way from the worker to the channel under 35 ms (npm run bench, log latency).
 */
const FLUSH_INTERVAL_MS = READ_REST_MS;
/** A channel shows its stream's tail in the server's history (core/history/lineHistory.ts): at most this many lines. */
export const CHANNEL_LINES_MAX = HISTORY_LINES_MAX;
export const CHANNEL_LINES_KEPT = HISTORY_LINES_KEPT;

export function channelName(serverName: string, slot: number): string {
  return slot === 0 ? `${serverName} · master` : `${serverName} · worker ${slot}`;
}

/** What a channel shows: its stream's tail (that of the newest server of its name), and what came before it. */
interface ChannelSource {
  tail: LineTail;
  /** Lines of the tails of earlier servers of the same name (a stopped server started again continues its channels). */
  linesBefore: number;
  /** Lines the channel has said it dropped. */
  shownDropped: number;
}

export class WorkerChannels implements vscode.Disposable {
  /** Channels by name: a restarted server (same name) continues its channels. */
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly sources = new Map<string, ChannelSource>();
  /**
   * A server's read beat reads all its workers in one turn of the event loop: a flush at the turn's end takes all of
   * their lines, also when the beat's timer and the flush's expire together.
   */
  private readonly flushes = new TurnEndThrottle(FLUSH_INTERVAL_MS, () => this.writeUnread());
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(registry: ServerRegistry) {
    this.subscriptions.push(
      registry.onDidAdd(({ supervisor, disposables }) => disposables.push(onCore(supervisor.onOutput, (event) => this.added(supervisor, event)))),
    );
  }

  /** Lines appended to a channel so far. */
  lineCount(serverName: string, slot: number): number {
    const source = this.sources.get(channelName(serverName, slot));
    return source ? source.linesBefore + source.tail.total : 0;
  }

  /** The lines a channel holds now (the newest; see CHANNEL_LINES_MAX). */
  lines(serverName: string, slot: number): string[] {
    return this.sources.get(channelName(serverName, slot))?.tail.lines() ?? [];
  }

  show(serverName: string, slot: number): void {
    this.flush();
    this.channel(channelName(serverName, slot)).show(true);
  }

  /** The server's history has the event's lines already (it is the supervisor's first listener): show them soon. */
  private added(supervisor: Supervisor, event: OutputEvent): void {
    const name = channelName(supervisor.name, event.slot);
    const tail = supervisor.lines.stream(event.slot, true);
    const source = this.sources.get(name);
    if (!source) {
      this.sources.set(name, { tail, linesBefore: 0, shownDropped: 0 });
    } else if (source.tail !== tail) {
      // A new server of the same name: what the old one wrote goes out first, then the channel follows the new one.
      this.writeSource(name, source);
      Object.assign(source, { tail, linesBefore: source.linesBefore + source.tail.total, shownDropped: source.linesBefore + source.tail.total });
    }
    this.flushes.request();
  }

  flush(): void {
    this.flushes.runNow();
  }

  private writeUnread(): void {
    for (const [name, source] of this.sources) this.writeSource(name, source);
  }

  private writeSource(name: string, source: ChannelSource): void {
    const { tail } = source;
    if (!tail.hasUnread()) return;
    const channel = this.channel(name);
    const dropped = source.linesBefore + tail.dropped;
    if (dropped !== source.shownDropped) {
      // A trim happened: show the kept lines, saying how many were dropped.
      source.shownDropped = dropped;
      tail.skipUnread();
      channel.replace(`── ${dropped} older lines dropped: a channel keeps the last ${CHANNEL_LINES_KEPT} to ${CHANNEL_LINES_MAX} lines ──\n${tail.text()}`);
    } else {
      channel.append(tail.takeUnread());
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
