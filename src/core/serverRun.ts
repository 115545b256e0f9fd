/**
 * One run of a server, from its start to its stop: its private runtime folder, the agent's link (when the agent is
 * on), the master, and its workers as they come and go. What the processes report (the master's lines, the agent's
 * connections, the workers' output, exits, the stats tick) is recorded in the worker table, and each change goes out
 * as the supervisor's events. The supervisor decides everything else; it tells the run its state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Capabilities, RunTraits } from './adapters';
import { AgentLink, type JoinRequest } from './agent/agentLink';
import type { AgentMessage } from './agent/agentServer';
import { type PdbSession, PdbSessions } from './agent/pdbSessions';
import type { ResolvedDefinition } from './definition';
import type { Emitter } from './events';
import type { ExitStatus, ProcessModel, ServerState, WorkerModel } from './model';
import { BootTails } from './output/bootTails';
import { discoverWorkers, FallbackAttribution } from './output/fallbackAttribution';
import { type WorkerLines, WorkerStreams } from './output/workerStreams';
import { PIECE_CONTINUED, PIECE_OPEN } from './lineSplitter';
import { type MasterLine, MasterProcess } from './process/masterProcess';
import { isAlive, startedAtMs } from './process/procfs';
import { createRuntimeDir, sweepAbandonedRuntimeDirs } from './process/runtimeDirs';
import type { OutputEvent, WorkerEvent } from './serverEvents';
import { ExitEvidence } from './workers/exitEvidence';
import { WorkerInsights } from './workers/insight';
import { MemoryLimit } from './workers/memoryLimit';
import { UsageWatch } from './workers/usageWatch';
import { WorkerPositions } from './workers/workerPositions';
import { dumpStacks, type StacksResult } from './workers/stackDump';
import { type WorkerChange, WorkerTable } from './workers/workerTable';

/** How long a worker's output may trail the report of its exit. */
const OUTPUT_AFTER_EXIT_MS = 500;

export interface RunOptions {
  /** Folder of sitecustomize.py; the agent is off when undefined. */
  agentDir?: string;
  /** Holds every new worker at boot until it answers (launch-mode debugging); see SupervisorOptions. */
  onWorkerBoot?: (worker: WorkerModel) => Promise<Record<string, unknown>>;
  statsIntervalMs: number;
  capabilities: Capabilities;
  traits: RunTraits;
  /** The master serves by itself: its own connection makes it the one worker. */
  oneProcess: boolean;
  /** The generation of the run's first workers (1, or more when a reload restarted the server). */
  firstGeneration?: number;
  /** The server's arguments (the adapter's), given the run's private folder. */
  argv(runtimeDir: string): string[];
  /** The supervisor's events, fired by the run for what its processes report. */
  output: Emitter<OutputEvent>;
  workers: Emitter<WorkerEvent>;
  /** A pdb session opened (breakpoint() in a worker, or in a master that serves by itself). */
  pdb: Emitter<PdbSession>;
  /** Something in the run changed: the supervisor publishes a new model. */
  changed(): void;
  /** A worker died before it was ready. */
  bootFailed(): void;
}

/** A dead slot a respawning server has not refilled within this long closes: a replacement says hello within a second. */
const UNREPLACED_AFTER_MS = 10000;

let swept = false;
/** The first run a process starts removes the runtime folders that killed supervisors left behind. */
function sweepOnce(): void {
  if (swept) return;
  swept = true;
  void sweepAbandonedRuntimeDirs().catch(() => undefined);
}

export class ServerRun {
  readonly table: WorkerTable;
  readonly tails = new BootTails();
  readonly evidence = new ExitEvidence();
  private readonly insights = new WorkerInsights();
  /** The worker count on the command line of the master. */
  readonly launchedWorkers: number;
  /** The supervisor's state, as it last said. */
  serverState: ServerState = 'starting';
  /** The first worker whose death stopped the server (Hypercorn stops with it), said for people. */
  lostWorker: string | undefined;
  /** Gunicorn's boot guard is on (the reloader asked): a worker that dies booting is not replaced. */
  bootsGuarded = false;
  private readonly streams = new WorkerStreams();
  private readonly usage = new UsageWatch();
  private readonly pdb = new PdbSessions();
  private readonly fallback: FallbackAttribution;
  private readonly positions: WorkerPositions | undefined;
  private readonly memoryLimit: MemoryLimit;
  private readonly agent: AgentLink | undefined;
  private runtimeDir: string | undefined;
  private spawned: MasterProcess | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private released = false;
  /** Workers that died booting whose output is still being read: it belongs to the failure report. */
  private readonly lateBootOutput = new Set<number>();

  constructor(private readonly definition: ResolvedDefinition, private readonly options: RunOptions) {
    this.launchedWorkers = definition.workers;
    this.table = new WorkerTable(options.firstGeneration);
    this.fallback = new FallbackAttribution(options.traits.agentlessReadyAt);
    this.positions = options.traits.positionedWorkers ? new WorkerPositions() : undefined;
    this.memoryLimit = new MemoryLimit(definition.maxMemoryMb, options.capabilities.recyclesOverMemoryLimit === true, this.table, options.output);
    this.streams.onLines.on((event) => this.workerLines(event));
    this.streams.onClosed.on((pid) => setTimeout(() => this.checkExited(pid), 1000).unref());
    if (options.agentDir) {
      this.agent = new AgentLink(this.streams);
      this.agent.onClaim.on((claim) => this.spawned?.owns(claim.hello.pid) && claim.vouch());
      this.agent.onJoin.on((request) => this.admit(request));
      this.agent.onReady.on((pid) => this.markReady(pid));
      this.agent.onExitReport.on(({ pid, status }) => this.recordExit(pid, status));
      this.agent.onInsight.on(({ pid, message }) => this.recordInsight(pid, message));
      this.agent.onHung.on((pid) => this.evidence.healthCheckFailed(pid));
      this.agent.onPdb.on(({ slot, connection }) => this.pdb.open(slot, connection));
      this.pdb.onSession.on((session) => options.pdb.fire(session));
      this.pdb.onChange.on((pid) => this.pdbChanged(pid));
    }
  }

  /** Makes the runtime folder, listens for the agent, spawns the master with the agent's variables. */
  async launch(): Promise<void> {
    sweepOnce();
    const def = this.definition;
    const runtimeDir = createRuntimeDir();
    this.runtimeDir = runtimeDir;
    // No bytecode written: a file rewritten within the same second at the same size would be imported stale from it.
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...def.env, PYTHONUNBUFFERED: '1', PYDEVD_DISABLE_FILE_VALIDATION: '1' };
    if (this.agent && this.options.agentDir) {
      Object.assign(env, await this.agent.listen(runtimeDir, def.python), {
        SERVER_WORKERS_ROLE: 'master',
        SERVER_WORKERS_SERVER: def.server,
        SERVER_WORKERS_WATCH_PID: String(process.pid),
        SERVER_WORKERS_INSIGHT: def.insight ? '1' : '0',
        ...(this.options.onWorkerBoot ? { SERVER_WORKERS_BOOT_HOLD: '1' } : {}),
        PYTHONPATH: [this.options.agentDir, env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      });
    }
    const master = await MasterProcess.spawn(def.python, this.options.argv(runtimeDir), { cwd: def.cwd, env });
    this.spawned = master;
    master.onLine.on((line) => this.masterLine(line));
    this.statsTimer = setInterval(() => this.sampleStats(), this.options.statsIntervalMs).unref();
  }

  get master(): MasterProcess | undefined {
    return this.spawned;
  }

  /** The run's private folder (its sockets), while it runs. */
  get runtimeFolder(): string | undefined {
    return this.runtimeDir;
  }

  /** The master as the model shows it: while it runs. */
  masterModel(): ProcessModel | undefined {
    const master = this.spawned;
    if (!master?.running()) return undefined;
    const pdb = this.pdb.stopOf(master.pid);
    return Object.freeze({ pid: master.pid, startedAt: master.startedAt, ...this.usage.master, ...(pdb ? { pdb } : {}) });
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

  /** Sends a command to the master's agent (rejects when there is none). */
  requestMaster(message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> {
    return this.agent?.requestMaster(message, timeoutMs) ?? Promise.reject(new Error('the master has no agent connection'));
  }

  request(slot: number, message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> | undefined {
    const pid = this.table.inSlot(slot)?.pid;
    return pid === undefined ? undefined : this.agent?.request(pid, message, timeoutMs);
  }

  /** A process of the run waits in pdb: a person holds it, so the supervisor's waits do not time out meanwhile. */
  inPdb(): boolean {
    return this.pdb.anyPaused();
  }

  /** Has the worker `pid` dump its threads' stacks into its output (faulthandler, on its stack signal, checked at use); false without one. */
  signalStacks(pid: number): boolean {
    const signal = this.agent?.usableStackSignal(pid);
    if (signal === undefined || !this.table.has(pid)) return false;
    process.kill(pid, signal);
    return true;
  }

  /** Writes the stacks of the worker in `slot` into its output (see stackDump.ts). */
  showStacks(slot: number): Promise<StacksResult> {
    return dumpStacks(slot, { table: this.table, agent: this.agent, streams: this.streams, marker: (...marker) => this.marker(...marker) });
  }

  /** Stops every process of the run (see MasterProcess.stop) and releases it. */
  async stop(graceMs: number): Promise<void> {
    this.pdb.detachAll('the server is stopping'); // they finish their requests and exit with the others
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
    this.usage.clear();
    this.pdb.closeAll('the server stopped');
    this.table.endRun();
    await this.agent?.close();
    if (this.runtimeDir) fs.rmSync(this.runtimeDir, { recursive: true, force: true });
  }

  // ---- what the processes report ----------------------------------------------------------------------------------

  private masterLine({ text: line, stream, piece }: MasterLine): void {
    this.tails.masterLine(line);
    const timedOut = this.evidence.observeLine(line);
    if (timedOut !== undefined) this.timeoutMarker(timedOut);
    if (this.positions) this.readPosition(line);
    const event: OutputEvent = { slot: 0, pid: this.spawned?.pid ?? 0, lines: [line], stream };
    if (piece & PIECE_OPEN) event.partial = true;
    if (piece & PIECE_CONTINUED) event.continues = true;
    if (!this.agent) this.attributeToWorker(event);
    this.options.output.fire(event);
  }

  /**
   * Without the agent: a line that names a worker's pid (and the lines after it) go to that worker's stream; the rest
   * of a line shown before its newline goes where its start went.
   */
  private attributeToWorker(event: OutputEvent): void {
    const pipe = event.stream ?? 'stdout';
    const owner = this.fallback.openLineOwner(pipe, event.continues === true);
    if (owner) Object.assign(event, owner);
    else this.attributeByPid(event);
    this.fallback.routed(pipe, event, event.partial === true);
  }

  private attributeByPid(event: OutputEvent): void {
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

  /** Granian hands a worker's position to a new process: the successor takes its slot (see WorkerPositions). */
  private readPosition(line: string): void {
    const event = this.positions!.read(line);
    if (!event || !this.table.has(event.pid) || !isAlive(event.pid)) return; // after a crash the position's pid is gone
    if (event.type === 'overMemory') this.memoryLimit.announceRecycling(event.pid, ` (${this.definition.server} starts its successor first)`);
    else this.table.expectReplacement(event.pid, event.because);
  }

  private workerLines(event: WorkerLines): void {
    this.options.output.fire(event);
    if (this.table.stateOf(event.pid) === 'booting' || this.lateBootOutput.has(event.pid)) this.tails.bootingWorkerLines(event.lines);
    for (const line of event.lines) this.evidence.observeTimeout(line);
  }

  /** The master's or a worker's connection asks to join (else closed): onClaim vouched for its pid at its hello, its peer is that pid. */
  private admit(request: JoinRequest): void {
    const { hello } = request;
    if (hello.channel === 'pdb') {
      const slot = this.pdbSlot(hello.pid, hello.role);
      if (slot !== undefined) request.admit(slot);
      return;
    }
    if (hello.role === 'master') {
      if (hello.pid !== this.spawned?.pid) return;
      request.admit(0);
      if (hello.channel === 'control' && this.options.oneProcess) this.addWorker(hello.pid);
      return;
    }
    if (!this.addWorker(hello.pid, true)) return;
    const slot = this.table.slotOf(hello.pid)!;
    request.admit(slot);
    const worker = this.table.workerOf(hello.pid);
    const boot = this.options.onWorkerBoot;
    if (hello.channel === 'control' && boot && worker) {
      boot(worker).then(
        (answer) => this.agent?.send(hello.pid, { ...answer, t: 'boot' }),
        () => this.agent?.send(hello.pid, { t: 'boot' }),
      );
    }
  }

  /** Gunicorn says a worker timed out (it sends SIGABRT next): its channel says so, and on which request, before the stack. */
  private timeoutMarker(pid: number): void {
    const slot = this.table.slotOf(pid);
    if (slot === undefined) return;
    const request = this.insights.requestAt(pid, Date.now());
    const timeout = this.definition.timeout;
    this.marker(slot, pid, `── worker ${slot} (pid ${pid}): Gunicorn's WORKER TIMEOUT${timeout ? ` (--timeout ${timeout})` : ''}${request ? ` on ${request}` : ''}; SIGABRT, its stack follows`);
  }

  private marker(slot: number, pid: number, line: string): void {
    this.options.output.fire({ slot, pid, lines: [line], marker: true });
  }

  /** An agent's request summary: the worker's row shows it from the next model on. */
  private recordInsight(pid: number, message: AgentMessage): void {
    const insight = this.insights.record(pid, message);
    if (insight && this.table.setInsight(pid, insight)) this.options.changed();
  }

  /**
   * A pdb session joins for a process already known: a worker (its slot), or the master (slot 0, or its worker slot
   * when it serves by itself). Its hello never makes a process a worker.
   */
  private pdbSlot(pid: number, role: 'master' | 'worker'): number | undefined {
    if (role === 'master') return pid === this.spawned?.pid ? this.table.slotOf(pid) ?? 0 : undefined;
    return this.table.slotOf(pid);
  }

  /** A process's pdb state changed: the worker table (or the master's model) shows where it waits. */
  private pdbChanged(pid: number): void {
    this.table.setPdb(pid, this.pdb.stopOf(pid));
    this.options.changed();
  }

  // ---- the workers ------------------------------------------------------------------------------------------------

  /**
   * Records a worker on first sight; true when it is (or now is) one of this server's. A hello or a log line only
   * claims a pid, and the supervisor signals its workers: it must be the master or a descendant of it (`vouched`: it was).
   */
  private addWorker(pid: number, vouched = false): boolean {
    if (this.table.has(pid)) return true;
    if (this.serverState === 'stopping' || this.serverState === 'stopped' || this.serverState === 'failed') return false;
    if (!vouched && !this.spawned?.owns(pid)) return false;
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

  /** `reported`: the master's report of the exit; the reason names the request the worker was on if it timed out. */
  private recordExit(pid: number, reported?: ExitStatus): void {
    const reason = this.evidence.reasonFor(pid, reported, this.insights.requestAt(pid, Date.now()));
    const replaced = this.options.capabilities.respawnsWorkers || this.serverState !== 'running';
    const stopsServer = this.options.capabilities.stopsWhenAWorkerDies;
    const change = this.table.exited(pid, reason, { replaced, serverKind: this.definition.server, stopsServer, guardedBoots: this.bootsGuarded, at: Date.now() });
    if (!change) {
      this.options.changed(); // an exit recorded earlier got its exact reason
      return;
    }
    // Hypercorn stops when a worker ends other than cleanly, booting or serving (a reload's clean exits it survives).
    const unasked = this.serverState !== 'stopping' && this.serverState !== 'restarting';
    if (stopsServer && unasked && reason.code !== 0) this.lostWorker ??= `worker ${change.worker.slot} (pid ${pid}) ${reason.text}`;
    this.usage.keep(this.knownPids());
    this.apply(change);
    if (!change.diedBooting) return;
    // A reload's new workers that die at boot leave the old ones serving: that is no reason to stop the server.
    const expected = () => this.serverState === 'stopping' || this.serverState === 'restarting';
    if (expected() || this.serverState === 'reloading') return;
    // Its traceback may still wait for the read beat (a fast server reports the exit first): it goes in the report.
    this.lateBootOutput.add(pid);
    void this.streams.whenClosed(pid, OUTPUT_AFTER_EXIT_MS).then(() => {
      this.lateBootOutput.delete(pid);
      if (!this.released && !expected()) this.options.bootFailed();
    });
  }

  /** A worker's streams closed, or /proc lost it: if its process is gone, record the exit with what is known. */
  private checkExited(pid: number): void {
    if (this.table.has(pid) && !isAlive(pid)) this.recordExit(pid);
  }

  /** A change of the worker table: its marker lines to the slot's stream, its event, then the new model. */
  private apply(change: WorkerChange): void {
    if (change.type === 'exit') this.pdb.processExited(change.worker.pid, change.worker.lastExit?.text ?? 'exited');
    for (const marker of change.markers) this.marker(marker.slot, marker.pid, marker.line);
    this.options.workers.fire({ type: change.type, worker: change.worker });
    this.options.changed();
  }

  // ---- the stats tick ---------------------------------------------------------------------------------------------

  /** Once a second: CPU and memory from /proc, the master's descendants, workers gone without a word, the memory limit, the agent-less discovery; a model only when a figure changed. */
  private sampleStats(): void {
    const now = Date.now();
    const master = this.spawned;
    let changed = false;
    if (master) {
      changed = this.usage.sampleMaster(master.pid, now);
      master.trackDescendants();
    }
    const { usage, gone } = this.usage.sample(this.table.livePids(), now);
    for (const [pid, { cpuPercent, rssBytes }] of usage) {
      if (this.table.setUsage(pid, cpuPercent, rssBytes)) changed = true;
      if (this.memoryLimit.enforce(pid, rssBytes, this.serverState)) changed = true;
    }
    for (const pid of gone) this.checkExited(pid);
    if (this.options.capabilities.respawnsWorkers && ['running', 'scaling', 'reloading'].includes(this.serverState)) {
      for (const change of this.table.closeUnreplaced(now, UNREPLACED_AFTER_MS)) this.apply(change);
    }
    if (!this.agent && master && this.serverState !== 'stopping') {
      for (const pid of discoverWorkers(master.pid, this.options.traits.spawnsWorkers)) this.addWorker(pid);
    }
    if (changed) this.options.changed();
  }
}
