/**
 * Supervises one server: the state machine, the operations (start, stop, restart, scale, reload, kill) run one at a
 * time and settled when the change they asked for is real, the restart policy, and the model.
 *
 * Each start makes a ServerRun: it owns the run's processes and records what they report in its worker table. Every
 * change, wherever it came from, ends in `changed()`: the waiters it satisfies settle, and one immutable model
 * snapshot goes out to the views.
 */
import * as os from 'node:os';
import { adapterFor, type Capabilities, type ServerAdapter } from './adapters';
import type { AgentMessage } from './agent/agentServer';
import type { PdbSession } from './agent/pdbSessions';
import { type ResolvedDefinition, serverUrl } from './definition';
import { ServerError } from './errors';
import { Emitter } from './events';
import { LineHistory } from './history/lineHistory';
import { ServerHistory } from './history/serverHistory';
import { describeExit, type ProcessModel, type ServerModel, type ServerState } from './model';
import { delay, type MasterExit } from './process/masterProcess';
import { preflight } from './process/preflight';
import { runPreLaunchSteps } from './process/preLaunch';
import type { PythonEnvironment } from './pythonEnvironment';
import { Reloader } from './reload/reloader';
import { DEFAULT_RELOAD_TIMEOUT, type ReloadEvent } from './reload/reloadTypes';
import { RestartPolicy } from './restartPolicy';
import type { ExitEvent, MasterStartEvent, OutputEvent, SupervisorOptions, WorkerEvent } from './serverEvents';
import { ServerRun } from './serverRun';
import type { StacksResult } from './workers/stackDump';
import { awaitSignalledWorker, scaleBySignals } from './workers/workerSignals';
import { Waiters } from './waiters';

export { ServerError } from './errors';
export type { ExitEvent, MasterStartEvent, OutputEvent, SupervisorOptions, WorkerEvent } from './serverEvents';
export type { StacksResult } from './workers/stackDump';
export type { PdbCompletion, PdbEnd, PdbSession } from './agent/pdbSessions';
export type { ReloadEvent } from './reload/reloadTypes';

const DEFAULT_BOOT_TIMEOUT_MS = 120000;
let nextServerId = 1;

export class Supervisor {
  readonly id = `server-${nextServerId++}`;
  readonly onDidChange = new Emitter<ServerModel>();
  readonly onOutput = new Emitter<OutputEvent>();
  readonly onWorker = new Emitter<WorkerEvent>();
  readonly onMasterStart = new Emitter<MasterStartEvent>();
  readonly onExit = new Emitter<ExitEvent>();
  /** breakpoint() in a worker opened a pdb session (docs/agent-protocol.md, "pdb"): a view drives it. */
  readonly onPdb = new Emitter<PdbSession>();
  readonly onReload = new Emitter<ReloadEvent>();
  /** Every stream's newest lines, numbered (history/lineHistory.ts): the channels show them, the agent tools read them. */
  readonly lines = new LineHistory(this.onOutput);
  /** The last 15 minutes: each worker's per-second figures and what happened (the dashboard, metrics, tools read it). */
  readonly history = new ServerHistory(this);

  private state: ServerState = 'stopped';
  private error: string | undefined;
  /** The run is ending because it failed: the stop ends in 'failed', not 'stopped'. */
  private failing = false;
  private readonly adapter: ServerAdapter;
  private capabilities: Capabilities | undefined;
  private run: ServerRun | undefined;
  // A worker in pdb is held by a person: what the supervisor waits for (a boot, a replacement) waits with it.
  private readonly waiters = new Waiters(() => this.definition.name, () => this.run?.inPdb() ?? false);
  private readonly policy = new RestartPolicy();
  private preLaunchAbort: AbortController | undefined;
  private stopping: Promise<void> | undefined;
  private operation: Promise<unknown> = Promise.resolve();
  private readonly workersFormula = `(2 × ${os.cpus().length} CPUs) + 1, at most 64`;
  private snapshot: ServerModel;
  private readonly reloader: Reloader;
  /** The generation of the next run's first workers (a reload that restarts the server goes on counting). */
  private firstGeneration = 1;

  constructor(private definition: ResolvedDefinition, private readonly options: SupervisorOptions = {}) {
    this.adapter = adapterFor(definition.server);
    this.reloader = new Reloader({
      definition: () => this.definition,
      state: () => this.state,
      run: () => this.run,
      capabilities: () => this.capabilities,
      waiters: this.waiters,
      serialize: (operation) => this.serialize(operation),
      setState: (state) => this.setState(state),
      restart: (generation) => {
        this.firstGeneration = generation;
        return this.restartNow().finally(() => (this.firstGeneration = 1));
      },
      changed: () => this.changed(),
      timeoutSeconds: () => this.definition.reloadTimeout ?? options.reloadTimeout ?? DEFAULT_RELOAD_TIMEOUT,
      output: this.onOutput,
      workers: this.onWorker,
      events: this.onReload,
    }, definition.reload.onSave ?? options.reloadOnSave ?? false);
    this.snapshot = this.buildModel();
  }

  get name(): string {
    return this.definition.name;
  }

  get currentDefinition(): ResolvedDefinition {
    return this.definition;
  }

  get serverState(): ServerState {
    return this.state;
  }

  get pid(): number | undefined {
    return this.run?.master?.pid;
  }

  get agentEnabled(): boolean {
    return this.options.agentDir !== undefined;
  }

  /** The model as of the last change: an immutable snapshot, the same object until the next change. */
  model(): ServerModel {
    return this.snapshot;
  }

  /** Every pid of the server the model believes alive: master, workers, retiring workers. */
  knownPids(): number[] {
    return this.run?.knownPids() ?? [];
  }

  // ---- operations: one at a time, in the order asked ---------------------------------------------------------------

  /** Starts the server; settles when every worker is ready. On failure nothing is left running. */
  start(): Promise<void> {
    this.policy.userStarted();
    return this.serialize(() => this.startNow());
  }

  /** Stops the server: SIGTERM, then after the graceful timeout SIGKILL to what is left; settles when no process remains.
   * Asked during a restart (a restart, or the restart policy's wait), it ends the restart there. */
  stop(): Promise<void> {
    if (this.state === 'restarting') this.setState('stopping');
    return this.stopRun();
  }

  private stopRun(): Promise<void> {
    this.stopping ??= this.stopNow().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  restart(): Promise<void> {
    this.policy.userStarted();
    return this.serialize(() => this.restartNow());
  }

  /** Scales to `count` workers; settles when exactly that many are ready. */
  scale(count: number): Promise<void> {
    return this.serialize(async () => {
      if (!Number.isInteger(count) || count < 1 || count > 64) {
        throw new ServerError(`The worker count must be a whole number from 1 to 64 (got ${count}).`, 'state');
      }
      const { capabilities, run } = this.requireRunning('scale');
      this.definition = { ...this.definition, workers: count };
      if (capabilities.scale === 'restart') {
        const kind = this.definition.server;
        this.onOutput.fire({ slot: 0, pid: run.master!.pid, lines: [`── scaling to ${count} workers: ${kind} cannot add or remove workers while it runs, so Server Workers restarts it with ${count}`], marker: true });
        return this.restartNow();
      }
      const timeoutMs = (this.definition.gracefulTimeout + 30) * 1000;
      await this.whileIn('scaling', () => scaleBySignals(run.master!, run.table, count, this.waiters, timeoutMs));
    });
  }

  /**
   * Replaces every worker with a new generation that runs the code on disk (src/core/reload/): the command, the tree,
   * the CLI and the watchers all come here. Settles when the new generation serves and the old one is gone; rejects
   * when the new code did not boot (the old generation keeps serving). `files`: the changes that caused it.
   */
  reload(files?: string[]): Promise<void> {
    return this.reloader.request(files);
  }

  /** Turns reload on save on or off (the watchers of the extension and the CLI read it from the model). */
  setReloadOnSave(on: boolean): void {
    this.reloader.setOnSave(on);
  }

  /**
   * Runs an operation in `state`, back to 'running' when it ends, also when it fails (a timeout): else the server
   * would stay 'scaling' or 'reloading' and refuse every operation after it. A stop or failure meanwhile wins.
   */
  private async whileIn(state: 'scaling' | 'reloading', operation: () => Promise<void>): Promise<void> {
    this.setState(state);
    try {
      await operation();
    } finally {
      if (this.state === state) this.setState('running');
    }
  }

  /**
   * Sends `signal` (SIGKILL unless told) to the worker in `slot`; settles when its replacement is ready, or when the
   * loss is recorded. SIGTERM recycles it gracefully: it finishes its requests first.
   */
  killWorker(slot: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.serialize(async () => {
      const { capabilities, run } = this.requireRunning('kill a worker of');
      const pid = run.signalWorker(slot, signal);
      if (pid === undefined) throw new ServerError(`There is no running worker in slot ${slot}.`, 'state');
      const timeoutMs = (this.definition.timeout ?? 30) * 1000 + 30000;
      await awaitSignalledWorker(run.master!, run.table, slot, pid, capabilities.respawnsWorkers, this.waiters, timeoutMs);
    });
  }

  /** Sends a command to a worker's agent and returns its reply. */
  requestWorker(slot: number, message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> {
    return this.run?.request(slot, message, timeoutMs)
      ?? Promise.reject(new ServerError(`Worker ${slot} has no agent connection (is serverWorkers.agent off?).`, 'state'));
  }

  /**
   * Writes the stacks of the worker in `slot` (every thread's; an asyncio worker's pending tasks too) into its output,
   * also when it is stuck. Not queued behind other operations: a stuck worker is when it is needed.
   */
  showStacks(slot: number): Promise<StacksResult> {
    if (!this.run || this.state === 'stopped' || this.state === 'failed') {
      return Promise.reject(new ServerError(`Cannot show a worker's stacks while the server "${this.definition.name}" is ${this.state}.`, 'state'));
    }
    return this.run.showStacks(slot);
  }

  /** Marks a worker as being debugged (the tree shows it); the mark goes with the worker, not its slot. */
  setDebugging(pid: number, debugging: boolean): void {
    if (this.run?.table.setDebugging(pid, debugging)) this.changed();
  }

  /** Listener counts, for leak checks. */
  listenerCounts(): Record<string, number> {
    return {
      change: this.onDidChange.listenerCount,
      output: this.onOutput.listenerCount,
      worker: this.onWorker.listenerCount,
      masterStart: this.onMasterStart.listenerCount,
      exit: this.onExit.listenerCount,
      pdb: this.onPdb.listenerCount,
      reload: this.onReload.listenerCount,
      waiters: this.waiters.size,
    };
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.operation.then(operation, operation);
    this.operation = next.catch(() => undefined);
    return next;
  }

  private requireRunning(action: string): { capabilities: Capabilities; run: ServerRun } {
    if (this.state !== 'running' || !this.capabilities || !this.run) {
      throw new ServerError(`Cannot ${action} the server "${this.definition.name}" while it is ${this.state}.`, 'state');
    }
    return { capabilities: this.capabilities, run: this.run };
  }

  private async restartNow(): Promise<void> {
    this.setState('restarting');
    await this.stopRun();
    if (this.state !== 'restarting') throw new ServerError(`The server "${this.definition.name}" was stopped.`, 'stopped');
    await this.startNow();
  }

  // ---- start and stop ---------------------------------------------------------------------------------------------

  private async startNow(): Promise<void> {
    this.error = undefined;
    this.failing = false;
    this.run = undefined;
    this.policy.newRun();
    this.setState('starting');
    try {
      const checked = await preflight(this.definition, this.adapter);
      this.capabilities = checked.capabilities;
      this.throwIfStopped();
      this.preLaunchAbort = new AbortController();
      await runPreLaunchSteps(this.definition, (line, pid, marker) => this.onOutput.fire({ slot: 0, pid, lines: [line], marker }), this.preLaunchAbort.signal);
      this.throwIfStopped();
      await this.launch(checked.env, checked.capabilities);
      await this.waiters.waitFor(() => this.run!.table.readyCount(this.definition.workers), this.options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS, `${this.definition.workers} workers to be ready`);
      this.policy.running(Date.now());
      this.setState('running');
      void this.reloader.serverRunning(this.run!);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const stoppedByUser = error instanceof ServerError && error.reason === 'stopped';
      if (!stoppedByUser) {
        this.error = message;
        this.failing = true;
      }
      await this.stopRun();
      if (stoppedByUser) throw error;
      throw error instanceof ServerError || (error instanceof Error && error.name !== 'Error') ? error : new ServerError(message, 'boot');
    }
  }

  /** A stop that came while the start awaited something ends the start there. */
  private throwIfStopped(): void {
    if (this.state !== 'starting') throw new ServerError(`The server "${this.definition.name}" was stopped.`, 'stopped');
  }

  private async launch(pythonEnvironment: PythonEnvironment, capabilities: Capabilities): Promise<void> {
    const run = new ServerRun(this.definition, {
      agentDir: this.options.agentDir,
      onWorkerBoot: this.options.onWorkerBoot,
      statsIntervalMs: this.options.statsIntervalMs ?? 1000,
      capabilities,
      traits: this.adapter.runTraits(this.definition),
      oneProcess: this.adapter.runsInOneProcess(this.definition),
      firstGeneration: this.firstGeneration,
      argv: (runtimeDir) => this.adapter.argv(this.definition, pythonEnvironment, { runtimeDir }),
      output: this.onOutput,
      workers: this.onWorker,
      pdb: this.onPdb,
      changed: () => this.changed(),
      bootFailed: () => this.countBootFailure(),
    });
    this.run = run;
    await run.launch();
    this.onMasterStart.fire({ pid: run.master!.pid });
    run.master!.onExit.on((exit) => this.masterExited(exit));
    this.changed();
  }

  private async stopNow(): Promise<void> {
    this.preLaunchAbort?.abort();
    this.reloader.abort();
    const run = this.run;
    if (!run?.master) {
      await run?.release();
      if (this.state !== 'restarting') this.setState(this.failing ? 'failed' : 'stopped');
      return;
    }
    if (this.state !== 'restarting') this.setState('stopping');
    this.waiters.rejectAll(new ServerError(`The server "${this.definition.name}" was stopped.`, 'stopped'));
    await run.stop(this.definition.gracefulTimeout * 1000 + 2000);
    if (this.failing) this.setState('failed');
    else if (this.state !== 'restarting') this.setState('stopped');
  }

  // ---- failures and the restart policy ----------------------------------------------------------------------------

  private masterExited({ code, signal }: MasterExit): void {
    this.policy.tick(Date.now(), this.state === 'running'); // a steady run up to now (an idle server publishes no change)
    const expected = this.state === 'stopping' || this.state === 'restarting';
    let error: string | undefined;
    let restart: { inMs: number; attempt: number } | undefined;
    this.waiters.check(); // what the exit satisfies (a worker's end) settles before a failure rejects the rest
    if (!expected) {
      const tails = this.run!.tails;
      const lost = this.capabilities?.stopsWhenAWorkerDies ? this.run!.lostWorker : undefined;
      const reason = tails.masterReason() ?? (lost && `${this.definition.server} stops every worker and itself when one dies, and ${lost}`);
      error = tails.report(`The ${this.definition.server} master (pid ${this.pid}) ${describeExit(code, signal).text}${reason ? `: ${reason}` : '.'}`);
      const wasServing = this.state === 'running' || this.state === 'scaling' || this.state === 'reloading';
      restart = wasServing ? this.policy.nextRestart(this.definition) : undefined;
      if (restart) this.restartAfterFailure(error, restart.inMs);
      else this.fail(error);
    }
    this.onExit.fire({ expected, code, signal, error, restartInMs: restart?.inMs, restartAttempt: restart?.attempt });
    this.changed();
  }

  /** Workers that die before they are ready, again and again: stop the retries instead of looping forever. */
  private countBootFailure(): void {
    const { count, giveUp } = this.policy.bootFailed(Date.now(), this.state === 'starting' ? this.definition.workers + 2 : undefined);
    if (giveUp) this.fail(this.run!.tails.report(`Workers keep failing at boot (${count} exited before they were ready); Server Workers stopped the retries.`));
  }

  /** The restart policy: clean up what is left of the run, wait the backoff, start again. */
  private restartAfterFailure(error: string, delayMs: number): void {
    this.error = error;
    this.setState('restarting');
    this.waiters.rejectAll(new ServerError(error, 'boot'));
    void this.stopRun()
      .then(() => delay(delayMs))
      .then(() => (this.state === 'restarting' ? this.serialize(() => this.startNow()) : undefined))
      .catch(() => undefined);
  }

  /** Ends the run as failed: waiters get the error, the server is stopped, the state becomes 'failed'. */
  private fail(message: string): void {
    if (this.failing) return;
    this.error = message;
    this.failing = true;
    this.waiters.rejectAll(new ServerError(message, 'boot'));
    void this.stopRun();
  }

  // ---- change -----------------------------------------------------------------------------------------------------

  private setState(state: ServerState): void {
    if (this.state === state) return;
    this.state = state;
    if (this.run) this.run.serverState = state;
    this.changed();
  }

  /** Settles the waiters the change satisfies, then publishes the one snapshot of this change. */
  private changed(): void {
    this.policy.tick(Date.now(), this.state === 'running');
    this.waiters.check();
    this.snapshot = this.buildModel();
    this.onDidChange.fire(this.snapshot);
  }

  private buildModel(): ServerModel {
    const { workers, retiring, incoming } = this.run?.table.snapshot() ?? { workers: [], retiring: [], incoming: [] };
    return Object.freeze({
      id: this.id,
      name: this.definition.name,
      kind: this.definition.server,
      state: this.state,
      url: serverUrl(this.definition),
      desiredWorkers: this.definition.workers,
      workersFormula: this.definition.workersDefaulted ? this.workersFormula : undefined,
      master: this.run?.masterModel(),
      workers: Object.freeze(workers),
      retiring: Object.freeze(retiring),
      incoming: Object.freeze(incoming),
      reload: this.reloader.model(),
      capabilities: this.capabilities,
      memoryLimitBytes: this.definition.maxMemoryMb === undefined ? undefined : this.definition.maxMemoryMb * 1024 * 1024,
      error: this.error,
    });
  }
}

export type { ProcessModel };
