/**
 * Supervises one server: starts its master, knows every worker, passes their output on, controls and stops it.
 *
 * The parts below do the work; this file only decides. What the processes report (the master's lines and exit, the
 * agent's connections and messages, the workers' output, the stats tick) comes in as events; each handler records it
 * in the worker table, whose answer says what changed, and the change is published as one immutable model snapshot.
 * Operations (start, stop, scale, reload, kill) run one at a time and settle when the change they asked for is real.
 */
import * as os from 'node:os';
import { adapterFor, type Capabilities, type ServerAdapter } from './adapters';
import { AgentLink, type JoinRequest } from './agent/agentLink';
import type { AgentMessage } from './agent/agentServer';
import { type ResolvedDefinition, serverUrl } from './definition';
import { ServerError } from './errors';
import { Emitter } from './events';
import { describeExit, type ProcessModel, type ServerModel, type ServerState } from './model';
import { BootTails } from './output/bootTails';
import { discoverWorkers } from './output/fallbackAttribution';
import { WorkerStreams, type WorkerLines } from './output/workerStreams';
import { delay, type MasterExit } from './process/masterProcess';
import { preflight } from './process/preflight';
import type { PythonEnvironment } from './pythonEnvironment';
import { runPreLaunchSteps } from './process/preLaunch';
import { isAlive } from './process/procfs';
import { Waiters } from './waiters';
import { RestartPolicy } from './restartPolicy';
import { ServerRun } from './serverRun';
import type { ExitEvent, OutputEvent, SupervisorOptions, WorkerEvent } from './serverEvents';
import { ExitEvidence } from './workers/exitEvidence';
import { type Usage, UsageWatch } from './workers/usageWatch';
import { type WorkerChange, WorkerTable } from './workers/workerTable';

export { ServerError } from './errors';

export type { ExitEvent, OutputEvent, SupervisorOptions, WorkerEvent } from './serverEvents';

const DEFAULT_BOOT_TIMEOUT_MS = 120000;
let nextServerId = 1;

export class Supervisor {
  readonly id = `server-${nextServerId++}`;
  readonly onDidChange = new Emitter<ServerModel>();
  readonly onOutput = new Emitter<OutputEvent>();
  readonly onWorker = new Emitter<WorkerEvent>();
  readonly onExit = new Emitter<ExitEvent>();

  private state: ServerState = 'stopped';
  private error: string | undefined;
  private readonly adapter: ServerAdapter;
  private capabilities: Capabilities | undefined;
  private readonly table = new WorkerTable();
  private readonly evidence = new ExitEvidence();
  private readonly tails = new BootTails();
  private readonly streams = new WorkerStreams();
  private readonly waiters = new Waiters(() => this.definition.name);
  private readonly usage = new UsageWatch();
  private readonly policy = new RestartPolicy();
  private run: ServerRun | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private masterUsage: Usage = { cpuPercent: 0, rssBytes: 0 };
  private preLaunchAbort: AbortController | undefined;
  private stopping: Promise<void> | undefined;
  /** The run is ending because it failed: the stop ends in 'failed', not 'stopped'. */
  private failing = false;
  private operation: Promise<unknown> = Promise.resolve();
  private readonly workersFormula = `(2 × ${os.cpus().length} CPUs) + 1, at most 64`;
  private snapshot: ServerModel;

  constructor(private definition: ResolvedDefinition, private readonly options: SupervisorOptions = {}) {
    this.adapter = adapterFor(definition.server);
    this.streams.onLines.on((event) => this.workerLines(event));
    this.streams.onClosed.on((pid) => setTimeout(() => this.checkExited(pid), 1000).unref());
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
    const master = this.run?.master;
    return [...(master?.running() ? [master.pid] : []), ...this.table.livePids()];
  }

  // ---- operations: one at a time, in the order asked ---------------------------------------------------------------

  /** Starts the server; settles when every worker is ready. On failure nothing is left running. */
  start(): Promise<void> {
    this.policy.userStarted();
    return this.serialize(() => this.startNow());
  }

  /** Stops the server: SIGTERM, then after the graceful timeout SIGKILL to what is left; settles when no process remains. */
  stop(): Promise<void> {
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
      const capabilities = this.requireRunning('scale');
      this.definition = { ...this.definition, workers: count };
      if (capabilities.scale === 'restart') return this.restartNow();
      this.setState('scaling');
      await this.adjustWorkerCount(count);
      this.setState('running');
    });
  }

  /** Replaces every worker (HUP where the server takes it); settles when the new generation is ready and the old one gone. */
  reload(): Promise<void> {
    return this.serialize(async () => {
      const capabilities = this.requireRunning('reload');
      if (capabilities.reload === 'restart') return this.restartNow();
      this.setState('reloading');
      this.table.beginReload();
      this.run!.master!.signal('SIGHUP');
      const generationSize = capabilities.reloadRestoresLaunchCount ? this.run!.launchedWorkers : this.definition.workers;
      await this.waiters.waitFor(
        () => this.table.reloadSettled() && this.table.liveCount() === generationSize && this.table.allSlotsReady(),
        (this.definition.gracefulTimeout + 60) * 1000,
        'the new generation of workers to be ready',
      );
      await this.adjustWorkerCount(this.definition.workers);
      this.setState('running');
    });
  }

  /**
   * Sends `signal` (SIGKILL unless told) to the worker in `slot`; settles when its replacement is ready, or when the
   * loss is recorded. SIGTERM recycles it gracefully: it finishes its requests first.
   */
  killWorker(slot: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.serialize(async () => {
      const capabilities = this.requireRunning('kill a worker of');
      const worker = this.table.inSlot(slot);
      if (!worker || worker.state === 'exited') throw new ServerError(`There is no running worker in slot ${slot}.`, 'state');
      this.evidence.signalSent(worker.pid, signal);
      process.kill(worker.pid, signal);
      const timeoutMs = (this.definition.timeout ?? 30) * 1000 + 30000;
      if (capabilities.respawnsWorkers) {
        await this.waiters.waitFor(() => {
          const current = this.table.inSlot(slot);
          return current !== undefined && current.pid !== worker.pid && current.state === 'ready';
        }, timeoutMs, `the replacement of worker ${slot}`);
      } else {
        await this.waiters.waitFor(() => !this.table.has(worker.pid), timeoutMs, `worker ${slot} to exit`);
      }
    });
  }

  /** Sends a command to a worker's agent and returns its reply. */
  requestWorker(slot: number, message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> {
    const pid = this.table.inSlot(slot)?.pid;
    const reply = pid === undefined ? undefined : this.run?.agent?.request(pid, message, timeoutMs);
    return reply ?? Promise.reject(new ServerError(`Worker ${slot} has no agent connection (is serverWorkers.agent off?).`, 'state'));
  }

  /** Marks a worker as being debugged (the tree shows it); the mark goes with the worker, not its slot. */
  setDebugging(pid: number, debugging: boolean): void {
    if (this.table.setDebugging(pid, debugging)) this.changed();
  }

  /** Listener counts, for leak checks. */
  listenerCounts(): Record<string, number> {
    return {
      change: this.onDidChange.listenerCount,
      output: this.onOutput.listenerCount,
      worker: this.onWorker.listenerCount,
      exit: this.onExit.listenerCount,
      waiters: this.waiters.size,
    };
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.operation.then(operation, operation);
    this.operation = next.catch(() => undefined);
    return next;
  }

  private requireRunning(action: string): Capabilities {
    if (this.state !== 'running' || !this.capabilities) {
      throw new ServerError(`Cannot ${action} the server "${this.definition.name}" while it is ${this.state}.`, 'state');
    }
    return this.capabilities;
  }

  private async restartNow(): Promise<void> {
    this.setState('restarting');
    await this.stop();
    await this.startNow();
  }

  /** TTIN / TTOU one at a time (signals of one kind sent together may merge) until `count` workers are ready. */
  private async adjustWorkerCount(count: number): Promise<void> {
    const timeoutMs = (this.definition.gracefulTimeout + 30) * 1000;
    while (this.table.liveCount() !== count) {
      const before = this.table.liveCount();
      if (before < count) {
        this.run!.master!.signal('SIGTTIN');
        await this.waiters.waitFor(() => this.table.liveCount() > before, timeoutMs, 'a worker to start after SIGTTIN');
      } else {
        this.table.expectRemoval();
        this.run!.master!.signal('SIGTTOU');
        await this.waiters.waitFor(() => this.table.liveCount() < before, timeoutMs, 'a worker to stop after SIGTTOU');
      }
    }
    await this.waiters.waitFor(() => this.table.readyCount(this.definition.workers), timeoutMs, `${count} workers to be ready`);
  }

  // ---- start and stop ---------------------------------------------------------------------------------------------

  private async startNow(): Promise<void> {
    this.reset();
    this.setState('starting');
    try {
      const checked = await preflight(this.definition, this.adapter);
      this.capabilities = checked.capabilities;
      this.throwIfStopped();
      this.preLaunchAbort = new AbortController();
      await runPreLaunchSteps(this.definition, (line, pid, marker) => this.onOutput.fire({ slot: 0, pid, lines: [line], marker }), this.preLaunchAbort.signal);
      this.throwIfStopped();
      await this.launch(checked.env);
      await this.waiters.waitFor(() => this.table.readyCount(this.definition.workers), this.options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS, `${this.definition.workers} workers to be ready`);
      this.policy.running(Date.now());
      this.setState('running');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const stoppedByUser = error instanceof ServerError && error.reason === 'stopped';
      if (!stoppedByUser) {
        this.error = message;
        this.failing = true;
      }
      await this.stop();
      if (stoppedByUser) throw error;
      throw error instanceof ServerError || (error instanceof Error && error.name !== 'Error') ? error : new ServerError(message, 'boot');
    }
  }

  /** A stop that came while the start awaited something ends the start there. */
  private throwIfStopped(): void {
    if (this.state !== 'starting') throw new ServerError(`The server "${this.definition.name}" was stopped.`, 'stopped');
  }

  private reset(): void {
    this.error = undefined;
    this.failing = false;
    this.table.clear();
    this.evidence.clear();
    this.tails.clear();
    this.policy.newRun();
    this.usage.clear();
    this.run = undefined;
  }

  /** The runtime folder, the agent's socket, then the master, with the agent's variables when it is on. */
  private async launch(pythonEnvironment: PythonEnvironment): Promise<void> {
    let agent: { link: AgentLink; dir: string } | undefined;
    if (this.options.agentDir) {
      const link = new AgentLink(this.streams);
      link.onJoin.on((request) => this.admit(request));
      link.onReady.on((pid) => this.markReady(pid));
      link.onExitReport.on(({ pid, status }) => this.recordExit(pid, this.evidence.reasonFor(pid, status)));
      agent = { link, dir: this.options.agentDir };
    }
    this.run = await ServerRun.launch(this.definition, {
      agent,
      bootHold: this.options.onWorkerBoot !== undefined,
      argv: (runtimeDir) => this.adapter.argv(this.definition, pythonEnvironment, { runtimeDir }),
    });
    const master = this.run.master!;
    master.onLine.on((line) => this.masterLine(line));
    master.onExit.on((exit) => this.masterExited(exit));
    this.statsTimer = setInterval(() => this.sampleStats(), this.options.statsIntervalMs ?? 1000);
    this.statsTimer.unref();
    this.changed();
  }

  private async stopNow(): Promise<void> {
    this.preLaunchAbort?.abort();
    const master = this.run?.master;
    if (!master) {
      await this.release();
      if (this.state !== 'restarting') this.setState(this.failing ? 'failed' : 'stopped');
      return;
    }
    const restarting = this.state === 'restarting';
    if (!restarting) this.setState('stopping');
    this.waiters.rejectAll(new ServerError(`The server "${this.definition.name}" was stopped.`, 'stopped'));
    this.table.stopAll();
    this.changed();
    await master.stop(this.definition.gracefulTimeout * 1000 + 2000, () => this.table.livePids());
    await this.release();
    if (this.failing) this.setState('failed');
    else if (!restarting) this.setState('stopped');
  }

  /** The run's resources go: its timer, its connections, the agent's socket, the runtime folder. */
  private async release(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.table.endRun();
    await this.run?.release();
  }

  // ---- what the processes report ----------------------------------------------------------------------------------

  private masterLine(line: string): void {
    this.tails.masterLine(line);
    this.evidence.observeLine(line);
    if (!this.agentEnabled && this.attributeToWorker(line)) return;
    this.onOutput.fire({ slot: 0, pid: this.pid ?? 0, lines: [line] });
  }

  /** Without the agent: a line that names a worker's pid (and the lines after it) go to that worker's stream. */
  private attributeToWorker(line: string): boolean {
    const masterPid = this.pid;
    const { announced, writer } = this.run!.fallback.read(line);
    if (announced && announced.pid !== masterPid) {
      this.addWorker(announced.pid);
      if (announced.ready) this.markReady(announced.pid);
    }
    const slot = writer === undefined || writer === masterPid ? undefined : this.table.slotOf(writer);
    if (slot === undefined) return false;
    this.onOutput.fire({ slot, pid: writer!, lines: [line] });
    return true;
  }

  private workerLines(event: WorkerLines): void {
    this.onOutput.fire(event);
    if (this.table.stateOf(event.pid) === 'booting') this.tails.bootingWorkerLines(event.lines);
    for (const line of event.lines) this.evidence.observeTimeout(line);
  }

  /** A connection of the agent asks to join: the master's own, or one of the server's workers (else it is closed). */
  private admit(request: JoinRequest): void {
    const { hello } = request;
    if (hello.role === 'master') {
      if (hello.pid !== this.pid) return;
      request.admit(0);
      if (hello.channel === 'control' && this.adapter.runsInOneProcess(this.definition)) this.addWorker(hello.pid);
      return;
    }
    if (!this.addWorker(hello.pid)) return;
    request.admit(this.table.slotOf(hello.pid)!);
    const worker = this.table.inSlot(this.table.slotOf(hello.pid)!);
    const boot = this.options.onWorkerBoot;
    if (hello.channel === 'control' && boot && worker) {
      boot(worker).then(
        (answer) => this.run?.agent?.send(hello.pid, { ...answer, t: 'boot' }),
        () => this.run?.agent?.send(hello.pid, { t: 'boot' }),
      );
    }
  }

  private masterExited({ code, signal }: MasterExit): void {
    const expected = this.state === 'stopping' || this.state === 'restarting';
    let error: string | undefined;
    let restart: { inMs: number; attempt: number } | undefined;
    if (!expected) {
      const reason = this.tails.masterReason();
      error = this.tails.report(`The ${this.definition.server} master (pid ${this.pid}) ${describeExit(code, signal).text}${reason ? `: ${reason}` : '.'}`);
      const wasServing = this.state === 'running' || this.state === 'scaling' || this.state === 'reloading';
      restart = wasServing ? this.policy.nextRestart(this.definition) : undefined;
      if (restart) this.restartAfterFailure(error, restart.inMs);
      else this.fail(error);
    }
    this.onExit.fire({ expected, code, signal, error, restartInMs: restart?.inMs, restartAttempt: restart?.attempt });
    this.changed();
  }

  // ---- the workers ------------------------------------------------------------------------------------------------

  /**
   * Records a worker on first sight; true when it is (or now is) one of this server's. A hello or a log line only
   * claims a pid, and the supervisor signals its workers: it must be the master or a descendant of it.
   */
  private addWorker(pid: number): boolean {
    if (this.table.has(pid)) return true;
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed') return false;
    if (!this.run?.master?.owns(pid)) return false;
    this.recordUnreportedExits();
    const change = this.table.add(pid, Date.now());
    if (change) this.apply(change);
    return true;
  }

  /**
   * The master reports an exit on its own connection, the replacement says hello on another: Node may read the hello
   * first. So before a new worker takes a slot, a slot holder that /proc shows dead is recorded as exited now, with
   * the best reason known yet; the master's report corrects it when it arrives.
   */
  private recordUnreportedExits(): void {
    for (const worker of this.table.slotHolders()) {
      if (!isAlive(worker.pid)) this.recordExit(worker.pid, this.evidence.reasonFor(worker.pid));
    }
  }

  private markReady(pid: number): void {
    const change = this.table.markReady(pid);
    if (change) this.apply(change);
  }

  private recordExit(pid: number, reason = this.evidence.reasonFor(pid)): void {
    const change = this.table.exited(pid, reason, { replaced: this.capabilities?.respawnsWorkers === true || this.state !== 'running', serverKind: this.definition.server });
    if (!change) {
      this.changed(); // an exit recorded earlier got its exact reason
      return;
    }
    this.usage.keep(this.knownPids());
    this.apply(change);
    if (change.diedBooting && this.state !== 'stopping' && this.state !== 'restarting') this.countBootFailure();
  }

  /** A worker's streams closed: if its process is gone and no exit message came, record the exit with what is known. */
  private checkExited(pid: number): void {
    if (this.table.has(pid) && !isAlive(pid)) this.recordExit(pid);
  }

  /** A change of the worker table: its marker lines to the slot's stream, its event, then the new model. */
  private apply(change: WorkerChange): void {
    for (const marker of change.markers) this.onOutput.fire({ slot: marker.slot, pid: marker.pid, lines: [marker.line], marker: true });
    this.onWorker.fire({ type: change.type, worker: change.worker });
    this.changed();
  }

  // ---- failures and the restart policy ----------------------------------------------------------------------------

  /** Workers that die before they are ready, again and again: stop the retries instead of looping forever. */
  private countBootFailure(): void {
    const { count, giveUp } = this.policy.bootFailed(Date.now(), this.state === 'starting' ? this.definition.workers + 2 : undefined);
    if (giveUp) this.fail(this.tails.report(`Workers keep failing at boot (${count} exited before they were ready); Server Workers stopped the retries.`));
  }

  /** The restart policy: clean up what is left of the run, wait the backoff, start again. */
  private restartAfterFailure(error: string, delayMs: number): void {
    this.error = error;
    this.setState('restarting');
    this.waiters.rejectAll(new ServerError(error, 'boot'));
    void this.stop()
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
    void this.stop();
  }

  // ---- the stats tick ---------------------------------------------------------------------------------------------

  /** Once a second: CPU and memory from /proc, workers gone without a word, the memory limit, the agent-less discovery. */
  private sampleStats(): void {
    const now = Date.now();
    const master = this.run?.master;
    if (master) this.masterUsage = this.usage.sampleOne(master.pid, now) ?? this.masterUsage;
    const { usage, gone } = this.usage.sample(this.table.livePids(), now);
    for (const [pid, { cpuPercent, rssBytes }] of usage) {
      this.table.setUsage(pid, cpuPercent, rssBytes);
      this.enforceMemoryLimit(pid, rssBytes);
    }
    for (const pid of gone) this.checkExited(pid);
    if (!this.agentEnabled && master && this.state !== 'stopping') {
      for (const pid of discoverWorkers(master.pid, this.definition.server)) this.addWorker(pid);
    }
    this.policy.tick(now, this.state === 'running');
    this.changed();
  }

  /** A ready worker over the memory limit is recycled gracefully: SIGTERM, it finishes its requests, the server replaces it. */
  private enforceMemoryLimit(pid: number, rssBytes: number): void {
    const limitMb = this.definition.maxMemoryMb;
    if (limitMb === undefined || this.table.stateOf(pid) !== 'ready' || this.table.isRecycled(pid) || this.state !== 'running') return;
    const usedMb = rssBytes / (1024 * 1024);
    if (usedMb <= limitMb) return;
    const slot = this.table.slotOf(pid)!;
    this.table.markRecycled(pid, `recycled: it used ${Math.round(usedMb)} MiB, over the ${limitMb} MiB limit`);
    this.onOutput.fire({ slot, pid, lines: [`── worker ${slot} (pid ${pid}) uses ${Math.round(usedMb)} MiB, over the ${limitMb} MiB limit: recycling it gracefully`], marker: true });
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  // ---- change -----------------------------------------------------------------------------------------------------

  private setState(state: ServerState): void {
    if (this.state === state) return;
    this.state = state;
    this.changed();
  }

  /** Settles the waiters the change satisfies, then publishes the one snapshot of this change. */
  private changed(): void {
    this.waiters.check();
    this.snapshot = this.buildModel();
    this.onDidChange.fire(this.snapshot);
  }

  private buildModel(): ServerModel {
    const master = this.run?.master;
    const masterModel: ProcessModel | undefined = master?.running() ? { pid: master.pid, startedAt: master.startedAt, ...this.masterUsage } : undefined;
    const { workers, retiring } = this.table.snapshot();
    return Object.freeze({
      id: this.id,
      name: this.definition.name,
      kind: this.definition.server,
      state: this.state,
      url: serverUrl(this.definition),
      desiredWorkers: this.definition.workers,
      workersFormula: this.definition.workersDefaulted ? this.workersFormula : undefined,
      master: masterModel && Object.freeze(masterModel),
      workers: Object.freeze(workers),
      retiring: Object.freeze(retiring),
      capabilities: this.capabilities,
      memoryLimitBytes: this.definition.maxMemoryMb === undefined ? undefined : this.definition.maxMemoryMb * 1024 * 1024,
      error: this.error,
    });
  }
}

export type { ProcessModel };
