/**
 * The processes and resources of one run of a server, from its start to its stop: a private runtime folder, the agent's
 * link (when the agent is on), and the master, spawned with the variables that load the agent in it. Released whole.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentLink } from './agent/agentLink';
import type { ResolvedDefinition } from './definition';
import { FallbackAttribution } from './output/fallbackAttribution';
import { MasterProcess } from './process/masterProcess';
import { createRuntimeDir, sweepAbandonedRuntimeDirs } from './process/runtimeDirs';

export interface LaunchOptions {
  /** The agent's link (its listeners in place) and the folder of its sitecustomize.py; the agent is off without them. */
  agent?: { link: AgentLink; dir: string };
  /** Every worker waits at boot for the supervisor's `boot` message (launch-mode debugging). */
  bootHold: boolean;
  /** The server's arguments (the adapter's), given the run's private folder. */
  argv(runtimeDir: string): string[];
}

let swept = false;
/** The first run a process starts removes the runtime folders that killed supervisors left behind. */
function sweepOnce(): void {
  if (swept) return;
  swept = true;
  void sweepAbandonedRuntimeDirs().catch(() => undefined);
}

export class ServerRun {
  readonly agent: AgentLink | undefined;
  /** Without the agent: which worker a master line belongs to. */
  readonly fallback: FallbackAttribution;
  /** The worker count on the command line of the running master. */
  readonly launchedWorkers: number;
  private spawned: MasterProcess | undefined;
  private released = false;

  private constructor(readonly definition: ResolvedDefinition, readonly runtimeDir: string, options: LaunchOptions) {
    this.agent = options.agent?.link;
    this.launchedWorkers = definition.workers;
    const workerClass = definition.workerClass?.toLowerCase();
    const uvicornWorkers = definition.server === 'uvicorn' || workerClass === undefined || workerClass.includes('uvicorn');
    this.fallback = new FallbackAttribution(uvicornWorkers ? 'started' : 'booting');
  }

  /** Makes the runtime folder, listens for the agent, spawns the master. */
  static async launch(def: ResolvedDefinition, options: LaunchOptions): Promise<ServerRun> {
    sweepOnce();
    const run = new ServerRun(def, createRuntimeDir(), options);
    const env: NodeJS.ProcessEnv = { ...process.env, ...def.env, PYTHONUNBUFFERED: '1', PYDEVD_DISABLE_FILE_VALIDATION: '1' };
    if (options.agent) {
      Object.assign(env, await options.agent.link.listen(run.runtimeDir), {
        SERVER_WORKERS_ROLE: 'master',
        SERVER_WORKERS_SERVER: def.server,
        SERVER_WORKERS_WATCH_PID: String(process.pid),
        ...(options.bootHold ? { SERVER_WORKERS_BOOT_HOLD: '1' } : {}),
        PYTHONPATH: [options.agent.dir, env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      });
    }
    try {
      run.spawned = await MasterProcess.spawn(def.python, options.argv(run.runtimeDir), { cwd: def.cwd, env });
    } catch (error) {
      await run.release();
      throw error;
    }
    return run;
  }

  get master(): MasterProcess | undefined {
    return this.spawned;
  }

  /** The agent's link and the runtime folder go; the processes must be stopped already. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.agent?.close();
    fs.rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}
