/**
 * One run of a server, from its start to its stop: its private runtime folder, the agent's link (when the agent is
 * on), the master, and its workers as they come and go. What the processes report (the master's lines, the agent's
 * connections, the workers' output, exits, the stats tick) is recorded in the worker table, and each change goes out
 * as the supervisor's events. The supervisor decides everything else; it tells the run its state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Capabilities } from './adapters';
import { AgentLink, type JoinRequest } from './agent/agentLink';
import type { AgentMessage } from './agent/agentServer';
import type { ResolvedDefinition } from './definition';
import type { Emitter } from './events';
import type { ProcessModel, ServerState, WorkerModel } from './model';
import { BootTails } from './output/bootTails';
import { discoverWorkers, FallbackAttribution } from './output/fallbackAttribution';
import { type WorkerLines, WorkerStreams } from './output/workerStreams';
import { PIECE_CONTINUED, PIECE_OPEN } from './lineSplitter';
import { type MasterLine, MasterProcess } from './process/masterProcess';
import { isAlive, startedAtMs } from './process/procfs';
import { createRuntimeDir, sweepAbandonedRuntimeDirs } from './process/runtimeDirs';
import type { OutputEvent, WorkerEvent } from './serverEvents';
import { ExitEvidence } from './workers/exitEvidence';
import { type Usage, UsageWatch } from './workers/usageWatch';
import { type WorkerChange, WorkerTable } from './workers/workerTable';

export interface RunOptions {
  /** Folder of sitecustomize.py; the agent is off when undefined. */
  agentDir?: string;
  /** Holds every new worker at boot until it answers (launch-mode debugging); see SupervisorOptions. */
  onWorkerBoot?: (worker: WorkerModel) => Promise<Record<string, unknown>>;
  statsIntervalMs: number;
  capabilities: Capabilities;
  /** The master serves by itself: its own connection makes it the one worker. */
  oneProcess: boolean;
  /** The server's arguments (the adapter's), given the run's private folder. */
  argv(runtimeDir: string): string[];
  /** The supervisor's events, fired by the run for what its processes report. */
  output: Emitter<OutputEvent>;
  workers: Emitter<WorkerEvent>;
  /** Something in the run changed: the supervisor publishes a new model. */
  changed(): void;
  /** A worker died before it was ready. */
  bootFailed(): void;
}

/**
 * A dead worker's slot that a respawning server has not refilled within this long closes: its replacement says hello
 * within a second of its start (before it imports the app), so the server decided against one (a SIGKILL at the
 * moment of a scale or reload: the server counted that death as the worker it was to stop).
 */
const UNREPLACED_AFTER_MS = 10000;

let swept = false;
/** The first run a process starts removes the runtime folders that killed supervisors left behind. */
function sweepOnce(): void {
  if (swept) return;
  swept = true;
  void sweepAbandonedRuntimeDirs().catch(() => undefined);
}

export class ServerRun {
  readonly table = new WorkerTable();
  readonly tails = new BootTails();
  readonly evidence = new ExitEvidence();
  /** The worker count on the command line of the master. */
  readonly launchedWorkers: number;
  /** The supervisor's state, as it last said. */
  serverState: ServerState = 'starting';
  private readonly streams = new WorkerStreams();
  private readonly usage = new UsageWatch();
  private readonly fallback: FallbackAttribution;
  private readonly agent: AgentLink | undefined;
  private runtimeDir: string | undefined;
  private spawned: MasterProcess | undefined;
  private masterUsage: Usage = { cpuPercent: 0, rssBytes: 0 };
  private statsTimer: NodeJS.Timeout | undefined;
  private released = false;

  constructor(private readonly definition: ResolvedDefinition, private readonly options: RunOptions) {
    this.launchedWorkers = definition.workers;
    const workerClass = definition.workerClass?.toLowerCase();
    const uvicornWorkers = definition.server === 'uvicorn' || workerClass === undefined || workerClass.includes('uvicorn');
    this.fallback = new FallbackAttribution(uvicornWorkers ? 'started' : 'booting');
    this.streams.onLines.on((event) => this.workerLines(event));
    this.streams.onClosed.on((pid) => setTimeout(() => this.checkExited(pid), 1000).unref());
    if (options.agentDir) {
      this.agent = new AgentLink(this.streams);
      this.agent.onJoin.on((request) => this.admit(request));
      this.agent.onReady.on((pid) => this.markReady(pid));
      this.agent.onExitReport.on(({ pid, status }) => this.recordExit(pid, this.evidence.reasonFor(pid, status)));
    }
  }

  /** Makes the runtime folder, listens for the agent, spawns the master with the agent's variables. */
  async launch(): Promise<void> {
    sweepOnce();
    const def = this.definition;
    const runtimeDir = createRuntimeDir();
    this.runtimeDir = runtimeDir;
    const env: NodeJS.ProcessEnv = { ...process.env, ...def.env, PYTHONUNBUFFERED: '1', PYDEVD_DISABLE_FILE_VALIDATION: '1' };
    if (this.agent && this.options.agentDir) {
      Object.assign(env, await this.agent.listen(runtimeDir), {
        SERVER_WORKERS_ROLE: 'master',
        SERVER_WORKERS_SERVER: def.server,
        SERVER_WORKERS_WATCH_PID: String(process.pid),
        ...(this.options.onWorkerBoot ? { SERVER_WORKERS_BOOT_HOLD: '1' } : {}),
        PYTHONPATH: [this.options.agentDir, env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      });
    }
    const master = await MasterProcess.spawn(def.python, this.options.argv(runtimeDir), { cwd: def.cwd, env });
    this.spawned = master;
    master.onLine.on((line) => this.masterLine(line));
    this.statsTimer = setInterval(() => this.sampleStats(), this.options.statsIntervalMs);
    this.statsTimer.unref();
  }

  get master(): MasterProcess | undefined {
    return this.spawned;
  }

  /** The master as the model shows it: while it runs. */
  masterModel(): ProcessModel | undefined {
    const master = this.spawned;
    return master?.running() ? Object.freeze({ pid: master.pid, startedAt: master.startedAt, ...this.masterUsage }) : undefined;
  }

  /** Every pid of the run the model believes alive: master, workers, retiring workers. */
  knownPids(): number[] {
    return [...(this.spawned?.running() ? [this.spawned.pid] : []), ...this.table.livePids()];
  }

  /** Sends `signal` to the worker in `slot`; its pid. */
  signalWorker(slot: number, signal: NodeJS.Signals): number | undefined {
    const worker = this.table.inSlot(slot);
    if (!worker || worker.state === 'exited') return undefined;
    this.evidence.signalSent(worker.pid, signal);
    process.kill(worker.pid, signal);
    return worker.pid;
  }

  request(slot: number, message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> | undefined {
    const pid = this.table.inSlot(slot)?.pid;
    return pid === undefined ? undefined : this.agent?.request(pid, message, timeoutMs);
  }

  /** Stops every process of the run (see MasterProcess.stop) and releases it. */
  async stop(graceMs: number): Promise<void> {
    this.table.stopAll();
    this.options.changed();
    await this.spawned?.stop(graceMs);
    await this.release();
  }

  /** The timer, the agent's link and the runtime folder go; the workers are recorded as exited. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.table.endRun();
    await this.agent?.close();
    if (this.runtimeDir) fs.rmSync(this.runtimeDir, { recursive: true, force: true });
  }

  // ---- what the processes report ----------------------------------------------------------------------------------

  private masterLine({ text: line, stream, piece }: MasterLine): void {
    this.tails.masterLine(line);
    this.evidence.observeLine(line);
    const event: OutputEvent = { slot: 0, pid: this.spawned?.pid ?? 0, lines: [line], stream };
    if (piece & PIECE_OPEN) event.partial = true;
    if (piece & PIECE_CONTINUED) event.continues = true;
    if (!this.agent) this.attributeToWorker(event);
    this.options.output.fire(event);
  }

  /** Without the agent: a line that names a worker's pid (and the lines after it) go to that worker's stream. */
  private attributeToWorker(event: OutputEvent): void {
    const masterPid = this.spawned?.pid;
    const { announced, writer } = this.fallback.read(event.lines[0]);
    if (announced && announced.pid !== masterPid) {
      this.addWorker(announced.pid);
      if (announced.ready) this.markReady(announced.pid);
    }
    const slot = writer === undefined || writer === masterPid ? undefined : this.table.slotOf(writer);
    if (slot === undefined) return;
    event.slot = slot;
    event.pid = writer!;
  }

  private workerLines(event: WorkerLines): void {
    this.options.output.fire(event);
    if (this.table.stateOf(event.pid) === 'booting') this.tails.bootingWorkerLines(event.lines);
    for (const line of event.lines) this.evidence.observeTimeout(line);
  }

  /** A connection of the agent asks to join: the master's own, or one of the server's workers (else it is closed). */
  private admit(request: JoinRequest): void {
    const { hello } = request;
    if (hello.role === 'master') {
      if (hello.pid !== this.spawned?.pid) return;
      request.admit(0);
      if (hello.channel === 'control' && this.options.oneProcess) this.addWorker(hello.pid);
      return;
    }
    if (!this.addWorker(hello.pid)) return;
    const slot = this.table.slotOf(hello.pid)!;
    request.admit(slot);
    const worker = this.table.inSlot(slot);
    const boot = this.options.onWorkerBoot;
    if (hello.channel === 'control' && boot && worker) {
      boot(worker).then(
        (answer) => this.agent?.send(hello.pid, { ...answer, t: 'boot' }),
        () => this.agent?.send(hello.pid, { t: 'boot' }),
      );
    }
  }

  // ---- the workers ------------------------------------------------------------------------------------------------

  /**
   * Records a worker on first sight; true when it is (or now is) one of this server's. A hello or a log line only
   * claims a pid, and the supervisor signals its workers: it must be the master or a descendant of it.
   */
  private addWorker(pid: number): boolean {
    if (this.table.has(pid)) return true;
    if (this.serverState === 'stopping' || this.serverState === 'stopped' || this.serverState === 'failed') return false;
    if (!this.spawned?.owns(pid)) return false;
    this.recordUnreportedExits();
    const now = Date.now();
    const change = this.table.add(pid, now, startedAtMs(pid) ?? now);
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
      if (!isAlive(worker.pid)) this.recordExit(worker.pid);
    }
  }

  private markReady(pid: number): void {
    const change = this.table.markReady(pid);
    if (change) this.apply(change);
  }

  private recordExit(pid: number, reason = this.evidence.reasonFor(pid)): void {
    const replaced = this.options.capabilities.respawnsWorkers || this.serverState !== 'running';
    const change = this.table.exited(pid, reason, { replaced, serverKind: this.definition.server, at: Date.now() });
    if (!change) {
      this.options.changed(); // an exit recorded earlier got its exact reason
      return;
    }
    this.usage.keep(this.knownPids());
    this.apply(change);
    if (change.diedBooting && this.serverState !== 'stopping' && this.serverState !== 'restarting') this.options.bootFailed();
  }

  /** A worker's streams closed, or /proc lost it: if its process is gone, record the exit with what is known. */
  private checkExited(pid: number): void {
    if (this.table.has(pid) && !isAlive(pid)) this.recordExit(pid);
  }

  /** A change of the worker table: its marker lines to the slot's stream, its event, then the new model. */
  private apply(change: WorkerChange): void {
    for (const marker of change.markers) this.options.output.fire({ slot: marker.slot, pid: marker.pid, lines: [marker.line], marker: true });
    this.options.workers.fire({ type: change.type, worker: change.worker });
    this.options.changed();
  }

  // ---- the stats tick ---------------------------------------------------------------------------------------------

  /** Once a second: CPU and memory from /proc, the master's descendants, workers gone without a word, the memory limit, the agent-less discovery. */
  private sampleStats(): void {
    const now = Date.now();
    const master = this.spawned;
    if (master) {
      this.masterUsage = this.usage.sampleOne(master.pid, now) ?? this.masterUsage;
      master.trackDescendants();
    }
    const { usage, gone } = this.usage.sample(this.table.livePids(), now);
    for (const [pid, { cpuPercent, rssBytes }] of usage) {
      this.table.setUsage(pid, cpuPercent, rssBytes);
      this.enforceMemoryLimit(pid, rssBytes);
    }
    for (const pid of gone) this.checkExited(pid);
    if (this.options.capabilities.respawnsWorkers && ['running', 'scaling', 'reloading'].includes(this.serverState)) {
      for (const change of this.table.closeUnreplaced(now, UNREPLACED_AFTER_MS)) this.apply(change);
    }
    if (!this.agent && master && this.serverState !== 'stopping') {
      for (const pid of discoverWorkers(master.pid, this.definition.server)) this.addWorker(pid);
    }
    this.options.changed();
  }

  /** A ready worker over the memory limit is recycled gracefully: SIGTERM, it finishes its requests, the server replaces it. */
  private enforceMemoryLimit(pid: number, rssBytes: number): void {
    const limitMb = this.definition.maxMemoryMb;
    if (limitMb === undefined || this.table.stateOf(pid) !== 'ready' || this.table.isRecycled(pid) || this.serverState !== 'running') return;
    const usedMb = rssBytes / (1024 * 1024);
    if (usedMb <= limitMb) return;
    const slot = this.table.slotOf(pid)!;
    this.table.markRecycled(pid, `recycled: it used ${Math.round(usedMb)} MiB, over the ${limitMb} MiB limit`);
    this.options.output.fire({ slot, pid, lines: [`── worker ${slot} (pid ${pid}) uses ${Math.round(usedMb)} MiB, over the ${limitMb} MiB limit: recycling it gracefully`], marker: true });
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
