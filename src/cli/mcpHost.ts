/**
 * The servers of `server-workers mcp`: the tools' host (src/tools/types.ts) for the MCP server. The servers it starts
 * belong to it: each is watched for reload on save like `run`'s, its events go to the client, and all of them stop
 * when the MCP server ends.
 */
import type { ResolvedDefinition } from '../core/definition';
import { Supervisor } from '../core/supervisor';
import type { ToolHost } from '../tools';
import { watchForReload } from './reload';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

/** What happened to a server, for the client: a worker died, a reload ended, the server stopped or failed. */
export type ServerEventSink = (level: LogLevel, data: Record<string, unknown>) => void;

interface Owned {
  supervisor: Supervisor;
  offs: Array<() => void>;
  stopWatching?: Promise<() => Promise<void>>;
}

export class McpHost implements ToolHost {
  private readonly owned: Owned[] = [];

  constructor(readonly cwd: string, private readonly agentDir: string | undefined, private readonly events: ServerEventSink) {}

  servers(): readonly Supervisor[] {
    return this.owned.map((o) => o.supervisor);
  }

  /** A stopped or failed server of the same name makes way (as in the Workers view). */
  create(definition: ResolvedDefinition): Supervisor {
    for (const old of this.owned.filter((o) => o.supervisor.name === definition.name)) {
      if (old.supervisor.serverState === 'stopped' || old.supervisor.serverState === 'failed') this.forget(old);
    }
    const supervisor = new Supervisor(definition, { agentDir: this.agentDir });
    const owned: Owned = { supervisor, offs: [] };
    owned.offs.push(...this.report(supervisor), supervisor.onDidChange.on((model) => this.watch(owned, model.state === 'running' && model.reload.onSave)));
    this.owned.push(owned);
    return supervisor;
  }

  async stop(supervisor: Supervisor): Promise<void> {
    await supervisor.stop();
    const owned = this.owned.find((o) => o.supervisor === supervisor);
    if (owned) this.forget(owned);
  }

  /** Stops every server; settles when no process of any remains. */
  async stopAll(): Promise<void> {
    await Promise.all(this.owned.map((o) => this.stop(o.supervisor)));
  }

  private forget(owned: Owned): void {
    this.owned.splice(this.owned.indexOf(owned), 1);
    for (const off of owned.offs.splice(0)) off();
    this.watch(owned, false);
  }

  /** Reload on save: `run`'s watcher while the server runs with it on. */
  private watch(owned: Owned, on: boolean): void {
    if (on && !owned.stopWatching) {
      owned.stopWatching = watchForReload(owned.supervisor);
      owned.stopWatching.catch(() => (owned.stopWatching = undefined));
    } else if (!on && owned.stopWatching) {
      const stopping = owned.stopWatching;
      owned.stopWatching = undefined;
      void stopping.then((stop) => stop()).catch(() => undefined);
    }
  }

  private report(supervisor: Supervisor): Array<() => void> {
    const server = supervisor.name;
    let lastState = supervisor.serverState;
    return [
      supervisor.onWorker.on(({ type, worker }) => {
        if (type !== 'exit') return;
        const unexpected = supervisor.serverState === 'running';
        this.events(unexpected ? 'warning' : 'info', { event: 'worker-exited', server, slot: worker.slot, pid: worker.pid, reason: worker.lastExit?.text ?? 'exited', whileState: supervisor.serverState });
      }),
      supervisor.onReload.on((event) => {
        if (event.type === 'reloaded') this.events('info', { event: 'reloaded', server, generation: event.generation, seconds: event.seconds });
        if (event.type === 'failed') {
          const { file, line, message } = event.failure;
          this.events('error', { event: 'reload-failed', server, file: file ?? null, line: line ?? null, message, servingGeneration: event.serving.generation });
        }
      }),
      supervisor.onExit.on((exit) => {
        if (!exit.expected) this.events('error', { event: 'master-exited', server, code: exit.code, signal: exit.signal, error: exit.error, restartInMs: exit.restartInMs ?? null });
      }),
      supervisor.onDidChange.on((model) => {
        if (model.state === lastState) return;
        const before = lastState;
        lastState = model.state;
        if (model.state === 'stopped') this.events('info', { event: 'server-stopped', server });
        if (model.state === 'failed') this.events('error', { event: 'server-failed', server, error: model.error ?? null });
        if (model.state === 'running' && (before === 'starting' || before === 'restarting')) this.events('info', { event: 'server-running', server, url: model.url, workers: model.workers.length });
      }),
    ];
  }
}
