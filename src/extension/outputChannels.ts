/** One output channel per worker slot (and one for the master) of each server; appends are batched. */
import * as vscode from 'vscode';
import type { OutputEvent } from '../core/supervisor';
import type { ServerRegistry } from './serverRegistry';

const FLUSH_INTERVAL_MS = 100;

export function channelName(serverName: string, slot: number): string {
  return slot === 0 ? `${serverName} · master` : `${serverName} · worker ${slot}`;
}

export class WorkerChannels implements vscode.Disposable {
  /** Channels by name: a restarted server (same name) continues its channels. */
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly pending = new Map<string, string[]>();
  private readonly lineCounts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(registry: ServerRegistry) {
    this.subscriptions.push(
      registry.onDidAdd(({ supervisor }) => {
        const off = supervisor.onOutput.on((event) => this.append(supervisor.name, event));
        this.subscriptions.push({ dispose: off });
      }),
    );
  }

  /** Lines appended to a channel so far (what the e2e tests compare with the server's output). */
  lineCount(serverName: string, slot: number): number {
    return this.lineCounts.get(channelName(serverName, slot)) ?? 0;
  }

  show(serverName: string, slot: number): void {
    this.flush();
    this.channel(channelName(serverName, slot)).show(true);
  }

  private append(serverName: string, event: OutputEvent): void {
    const name = channelName(serverName, event.slot);
    let batch = this.pending.get(name);
    if (!batch) {
      batch = [];
      this.pending.set(name, batch);
    }
    batch.push(...event.lines);
    this.lineCounts.set(name, (this.lineCounts.get(name) ?? 0) + event.lines.length);
    this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [name, lines] of this.pending) this.channel(name).append(`${lines.join('\n')}\n`);
    this.pending.clear();
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
