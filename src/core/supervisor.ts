/** Supervises one server: spawns its master, knows every worker, separates their output, controls and stops it. */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import treeKill from 'tree-kill';
import { adapterFor, type Capabilities, type ServerAdapter } from './adapters';
import { AgentServer, type AgentHello, type AgentMessage, type ControlConnection } from './agentServer';
import { onCoalescedData, ReadPacer } from './coalescedReads';
import { withParentDeathSignal } from './parentDeathSignal';
import { createRuntimeDir, sweepAbandonedRuntimeDirs } from './runtimeDirs';
import { type ResolvedDefinition, serverUrl } from './definition';
import { Emitter } from './events';
import { LineSplitter } from './lineSplitter';
import { parseWorkerLogFact, pidOfLogLine } from './logPatterns';
import { describeExit, type ExitReason, type ProcessModel, type ServerModel, type ServerState, type WorkerModel } from './model';
import { childrenOf, commandLine, findPortHolder, identityOf, isAlive, isSelfOrDescendant, processGroupMembers, type ProcessIdentity, UsageSampler, zombieExit } from './procfs';
import { detectEnvironment, type PythonEnvironment } from './pythonEnvironment';

export interface SupervisorOptions {
  /** Folder of sitecustomize.py; the agent is off when undefined. */
  agentDir?: string;
  /** How long start() waits for every worker to be ready. */
  bootTimeoutMs?: number;
  statsIntervalMs?: number;
  /**
   * Holds every new worker at boot (before it imports the app) until this answers; the answer is sent to the worker's
   * agent as `{"t": "boot", ...answer}`. Launch-mode debugging uses it to make chosen workers wait for a debugger.
   */
  onWorkerBoot?: (worker: WorkerModel) => Promise<Record<string, unknown>>;
}

export interface OutputEvent {
  /** 0 for the master */
  slot: number;
  pid: number;
  lines: string[];
  /** A line the supervisor wrote (a respawn marker), not the process. */
  marker?: boolean;
}

export interface WorkerEvent {
  type: 'up' | 'ready' | 'exit';
  worker: WorkerModel;
}

export interface ExitEvent {
  expected: boolean;
  code: number | null;
  signal: string | null;
  error?: string;
  /** The restart policy restarts the server after this many ms (attempt `restartAttempt` of the definition's maximum). */
  restartInMs?: number;
  restartAttempt?: number;
}

export class ServerError extends Error {
  constructor(message: string, readonly reason: 'environment' | 'port' | 'cwd' | 'certificate' | 'prelaunch' | 'boot' | 'spawn' | 'state' | 'timeout' | 'stopped') {
    super(message);
    this.name = 'ServerError';
  }
}

interface WorkerRecord {
  slot: number;
  pid: number;
  state: WorkerModel['state'];
  startedAt: number;
  restarts: number;
  lastExit?: ExitReason;
  cpuPercent: number;
  rssBytes: number;
  sockets: Set<net.Socket>;
  control?: ControlConnection;
  debugging?: boolean;
  /** Why the supervisor itself asked it to go (over the memory limit), for its exit reason. */
  recycledBecause?: string;
  /** The pid of the worker this one replaced in its slot. */
  previousPid?: number;
}

interface Waiter {
  done: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const MASTER_TAIL_LINES = 40;
const BOOT_FAILURE_WINDOW_MS = 60000;
/** First wait of the restart policy; it doubles with each restart in a row. */
const RESTART_BACKOFF_MS = 1000;
/** A server that has run this long counts as steady: the restart policy's count starts over. */
const STEADY_RUN_MS = 60000;
/** Boot failures within the window that stop the retries of a running server. */
const BOOT_FAILURE_LIMIT = 5;
let nextServerId = 1;

let swept = false;
/** The first server a process starts removes the runtime folders that killed supervisors left behind. */
function sweepOnce(): void {
  if (swept) return;
  swept = true;
  void sweepAbandonedRuntimeDirs().catch(() => undefined);
}

export class Supervisor {
  readonly id = `server-${nextServerId++}`;
  readonly onDidChange = new Emitter<ServerModel>();
  readonly onOutput = new Emitter<OutputEvent>();
  readonly onWorker = new Emitter<WorkerEvent>();
  readonly onExit = new Emitter<ExitEvent>();

  private state: ServerState = 'stopped';
  private error: string | undefined;
  private env: PythonEnvironment | undefined;
  private readonly adapter: ServerAdapter;
  private capabilities: Capabilities | undefined;
  private child: ChildProcess | undefined;
  private masterPid: number | undefined;
  private masterStartedAt = 0;
  /** The master as /proc names it: every process the server owns descends from it. */
  private masterIdentity: ProcessIdentity | undefined;
  private masterUsage = { cpuPercent: 0, rssBytes: 0 };
  private masterExit: Promise<void> | undefined;
  private agent: AgentServer | undefined;
  /** Private (0700) directory of the current run: the agent's socket, Gunicorn's control socket. */
  private runtimeDir: string | undefined;
  private masterControl: ControlConnection | undefined;
  private readonly slots = new Map<number, WorkerRecord>();
  private readonly byPid = new Map<number, WorkerRecord>();
  private readonly retiring = new Set<WorkerRecord>();
  private reloadGeneration = new Set<WorkerRecord>();
  private pendingRemovals = 0;
  /** The worker count on the command line of the running master. */
  private launchedWorkers = 0;
  private readonly timedOutPids = new Set<number>();
  private readonly loggedExits = new Map<number, ExitReason>();
  /** Signals the supervisor sent to workers itself, the first clue to why they exited. */
  private readonly sentSignals = new Map<number, NodeJS.Signals>();
  /** One beat for the rests of all this server's worker sockets: their reads share a wake-up. */
  private readonly readPacer = new ReadPacer();
  private readonly masterTail: string[] = [];
  /** Workers' last lines while the server starts: a boot failure's traceback is there, not in the master's output. */
  private readonly bootTail: string[] = [];
  private bootFailures: number[] = [];
  private lastFallbackPid: number | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly sampler = new UsageSampler();
  private readonly suspectedDead = new Map<number, number>();
  private waiters = new Set<Waiter>();
  private stopping: Promise<void> | undefined;
  /** The run is ending because it failed: the stop ends in 'failed', not 'stopped'. */
  private failing = false;
  /** Restarts by the restart policy since the server last ran steadily. */
  private policyRestarts = 0;
  private runningSince = 0;
  private preLaunchChild: ChildProcess | undefined;
  private operation: Promise<unknown> = Promise.resolve();

  constructor(private definition: ResolvedDefinition, private readonly options: SupervisorOptions = {}) {
    this.adapter = adapterFor(definition.server);
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
    return this.masterPid;
  }

  get agentEnabled(): boolean {
    return this.options.agentDir !== undefined;
  }

  model(): ServerModel {
    return {
      id: this.id,
      name: this.definition.name,
      kind: this.definition.server,
      state: this.state,
      url: serverUrl(this.definition),
      desiredWorkers: this.definition.workers,
      workersFormula: this.definition.workersDefaulted ? `(2 × ${os.cpus().length} CPUs) + 1, at most 64` : undefined,
      master: this.masterPid !== undefined && this.masterRunning()
        ? { pid: this.masterPid, startedAt: this.masterStartedAt, ...this.masterUsage }
        : undefined,
      workers: [...this.slots.values()].sort((a, b) => a.slot - b.slot).map(toWorkerModel),
      retiring: [...this.retiring].map(toWorkerModel),
      capabilities: this.capabilities,
      memoryLimitBytes: this.definition.maxMemoryMb === undefined ? undefined : this.definition.maxMemoryMb * 1024 * 1024,
      error: this.error,
    };
  }

  /** Every pid of the server the model believes alive: master, workers, retiring workers. */
  knownPids(): number[] {
    const pids = [...this.byPid.keys()];
    if (this.masterPid !== undefined && this.masterRunning()) pids.unshift(this.masterPid);
    return pids;
  }

  /** The spawned master has not exited (a death by signal leaves exitCode null too). */
  private masterRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server; settles when every worker is ready. On failure nothing is left running. */
  start(): Promise<void> {
    this.policyRestarts = 0;
    return this.serialize(() => this.startNow());
  }

  /** Stops the server: SIGTERM, then after the graceful timeout SIGKILL to what is left; settles when no process remains. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = this.stopNow().finally(() => {
        this.stopping = undefined;
      });
    }
    return this.stopping;
  }

  restart(): Promise<void> {
    this.policyRestarts = 0;
    return this.serialize(async () => {
      this.setState('restarting');
      await this.stop();
      await this.startNow();
    });
  }

  /** Scales to `count` workers; settles when exactly that many are ready. */
  scale(count: number): Promise<void> {
    return this.serialize(async () => {
      if (!Number.isInteger(count) || count < 1 || count > 64) {
        throw new ServerError(`The worker count must be a whole number from 1 to 64 (got ${count}).`, 'state');
      }
      this.requireRunning('scale');
      const capabilities = this.capabilities!;
      if (capabilities.scale === 'restart') {
        this.definition = { ...this.definition, workers: count };
        this.setState('restarting');
        await this.stop();
        await this.startNow();
        return;
      }
      this.definition = { ...this.definition, workers: count };
      this.setState('scaling');
      await this.adjustWorkerCount(count);
      this.setState('running');
    });
  }

  /** Replaces every worker (HUP where the server takes it); settles when the new generation is ready and the old one gone. */
  reload(): Promise<void> {
    return this.serialize(async () => {
      this.requireRunning('reload');
      if (this.capabilities!.reload === 'restart') {
        this.setState('restarting');
        await this.stop();
        await this.startNow();
        return;
      }
      this.setState('reloading');
      this.reloadGeneration = new Set([...this.slots.values()].filter((w) => w.state !== 'exited'));
      this.signalMaster('SIGHUP');
      const generationSize = this.capabilities!.reloadRestoresLaunchCount ? this.launchedWorkers : this.definition.workers;
      await this.waitFor(
        () => this.reloadGeneration.size === 0 && this.retiring.size === 0 && this.liveWorkerCount() === generationSize && this.allLiveReady(),
        (this.definition.gracefulTimeout + 60) * 1000,
        'the new generation of workers to be ready',
      );
      await this.adjustWorkerCount(this.definition.workers);
      this.setState('running');
    });
  }

  /** TTIN / TTOU one at a time (signals of one kind sent together may merge) until `count` workers are ready. */
  private async adjustWorkerCount(count: number): Promise<void> {
    const timeoutMs = (this.definition.gracefulTimeout + 30) * 1000;
    while (this.liveWorkerCount() !== count) {
      const before = this.liveWorkerCount();
      if (before < count) {
        this.signalMaster('SIGTTIN');
        await this.waitFor(() => this.liveWorkerCount() > before, timeoutMs, 'a worker to start after SIGTTIN');
      } else {
        this.pendingRemovals++;
        this.signalMaster('SIGTTOU');
        await this.waitFor(() => this.liveWorkerCount() < before, timeoutMs, 'a worker to stop after SIGTTOU');
      }
    }
    await this.waitFor(() => this.allReady(), timeoutMs, `${count} workers to be ready`);
  }

  /**
   * Sends `signal` (SIGKILL unless told) to the worker in `slot`; settles when its replacement is ready, or when the
   * loss is recorded. SIGTERM recycles it gracefully: it finishes its requests first.
   */
  killWorker(slot: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.serialize(async () => {
      this.requireRunning('kill a worker of');
      const worker = this.slots.get(slot);
      if (!worker || worker.state === 'exited') throw new ServerError(`There is no running worker in slot ${slot}.`, 'state');
      const oldPid = worker.pid;
      this.sentSignals.set(oldPid, signal);
      process.kill(oldPid, signal);
      const timeoutMs = (this.definition.timeout ?? 30) * 1000 + 30000;
      if (this.capabilities!.respawnsWorkers) {
        await this.waitFor(() => {
          const current = this.slots.get(slot);
          return current !== undefined && current.pid !== oldPid && current.state === 'ready';
        }, timeoutMs, `the replacement of worker ${slot}`);
      } else {
        await this.waitFor(() => !this.byPid.has(oldPid), timeoutMs, `worker ${slot} to exit`);
      }
    });
  }

  /** Sends a command to a worker's agent and returns its reply. */
  requestWorker(slot: number, message: AgentMessage, timeoutMs?: number): Promise<AgentMessage> {
    const worker = this.slots.get(slot);
    if (!worker?.control) {
      return Promise.reject(new ServerError(`Worker ${slot} has no agent connection (is serverWorkers.agent off?).`, 'state'));
    }
    return worker.control.request(message, timeoutMs);
  }

  // ---- start -------------------------------------------------------------------------------------------------

  private async startNow(): Promise<void> {
    this.reset();
    this.setState('starting');
    try {
      await this.preflight();
      this.throwIfStopped();
      await this.runPreLaunchSteps();
      this.throwIfStopped();
      await this.spawnMaster();
      const bootTimeoutMs = this.options.bootTimeoutMs ?? 120000;
      await this.waitFor(() => this.allReady(), bootTimeoutMs, `${this.definition.workers} workers to be ready`);
      this.runningSince = Date.now();
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
    this.slots.clear();
    this.byPid.clear();
    this.retiring.clear();
    this.reloadGeneration.clear();
    this.pendingRemovals = 0;
    this.timedOutPids.clear();
    this.loggedExits.clear();
    this.sentSignals.clear();
    this.masterTail.length = 0;
    this.bootTail.length = 0;
    this.bootFailures = [];
    this.suspectedDead.clear();
    this.masterPid = undefined;
    this.masterIdentity = undefined;
    this.child = undefined;
    this.masterControl = undefined;
  }

  private async preflight(): Promise<void> {
    const def = this.definition;
    let cwdStat: fs.Stats | undefined;
    try {
      cwdStat = fs.statSync(def.cwd);
    } catch {
      cwdStat = undefined;
    }
    if (!cwdStat?.isDirectory()) {
      throw new ServerError(`The working directory "${def.cwd}" does not exist or is not a folder. Set "cwd" in the task to the folder of your app.`, 'cwd');
    }
    for (const [key, file] of [['certfile', def.certfile], ['keyfile', def.keyfile]] as const) {
      if (file === undefined) continue;
      const full = path.resolve(def.cwd, file);
      try {
        fs.accessSync(full, fs.constants.R_OK);
        if (!fs.statSync(full).isFile()) throw new Error('not a file');
      } catch {
        throw new ServerError(`The ${key === 'certfile' ? 'certificate' : 'private key'} file "${full}" ("${key}") does not exist or cannot be read. Fix the path in the task, or remove "certfile" and "keyfile" to serve plain HTTP.`, 'certificate');
      }
    }
    const port = await probePort(def.host, def.port);
    if (port === 'in-use') {
      const holder = findPortHolder(def.port);
      const who = holder ? ` by process ${holder.pid} (${holder.command.slice(0, 120)})` : '';
      throw new ServerError(`Port ${def.port} on ${def.host} is already in use${who}. Stop that process or set another "bind" in the task.`, 'port');
    }
    if (port === 'denied') {
      throw new ServerError(`Port ${def.port} on ${def.host} needs privileges this user does not have: ports below 1024 can be bound only by root or with the CAP_NET_BIND_SERVICE capability. Use a port from 1024 up in "bind", for example ${def.host.includes(':') ? `[${def.host}]` : def.host}:8000.`, 'port');
    }
    if (port === 'no-such-address') {
      throw new ServerError(`"${def.host}" is not an address of this machine, so nothing can listen on it. Set "bind" to 127.0.0.1:${def.port} (this machine only) or to one of its own addresses.`, 'port');
    }
    this.env = await detectEnvironment(def.python);
    const problem = this.adapter.checkEnvironment(def, this.env);
    if (problem) throw new ServerError(problem, 'environment');
    this.capabilities = this.adapter.capabilities(this.env, def);
  }

  /** The task's `preLaunch` commands, in order, in the server's folder and environment; the first failure stops the start. */
  private async runPreLaunchSteps(): Promise<void> {
    const def = this.definition;
    const env = { ...process.env, ...def.env, PYTHONUNBUFFERED: '1' };
    for (const [index, step] of def.preLaunch.entries()) {
      const argv = step[0] === 'python' ? [def.python, ...step.slice(1)] : step;
      const shown = step.join(' ');
      const where = `Pre-launch step ${index + 1} of ${def.preLaunch.length} (${shown})`;
      this.onOutput.fire({ slot: 0, pid: 0, lines: [`── ${where.toLowerCase()}`], marker: true });
      const child = spawn(argv[0], argv.slice(1), { cwd: def.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      this.preLaunchChild = child;
      for (const stream of [child.stdout, child.stderr]) {
        const splitter = new LineSplitter((line) => this.onOutput.fire({ slot: 0, pid: child.pid ?? 0, lines: [line] }));
        stream.on('data', (chunk: Buffer) => splitter.push(chunk));
        stream.on('end', () => splitter.end());
      }
      const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('close', (code, signal) => resolve({ code, signal }));
      });
      this.preLaunchChild = undefined;
      this.throwIfStopped();
      if (outcome.error) {
        const missing = (outcome.error as NodeJS.ErrnoException).code === 'ENOENT';
        throw new ServerError(`${where} could not be run: ${missing ? `no such command "${argv[0]}"` : outcome.error.message}. Nothing was started.`, 'prelaunch');
      }
      if (outcome.code !== 0) {
        throw new ServerError(`${where} failed: it ${describeExit(outcome.code, outcome.signal).text}. Nothing was started; its output is in the master's channel.`, 'prelaunch');
      }
    }
  }

  private async spawnMaster(): Promise<void> {
    const def = this.definition;
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...def.env,
      PYTHONUNBUFFERED: '1',
      PYDEVD_DISABLE_FILE_VALIDATION: '1',
    };
    sweepOnce();
    this.runtimeDir = createRuntimeDir();
    if (this.options.agentDir) {
      this.agent = await AgentServer.listen(this.runtimeDir, {
        onData: (hello, socket, initial) => this.acceptData(hello, socket, initial),
        onControl: (connection) => this.acceptControl(connection),
      });
      Object.assign(env, this.agent.environment(), {
        SERVER_WORKERS_ROLE: 'master',
        SERVER_WORKERS_SERVER: def.server,
        SERVER_WORKERS_WATCH_PID: String(process.pid),
        ...(this.options.onWorkerBoot ? { SERVER_WORKERS_BOOT_HOLD: '1' } : {}),
        PYTHONPATH: [this.options.agentDir, env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      });
    }
    const argv = this.adapter.argv(def, this.env!, { runtimeDir: this.runtimeDir });
    this.launchedWorkers = def.workers;
    const child = spawn(def.python, withParentDeathSignal(def.python, argv), { cwd: def.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.masterStartedAt = Date.now();
    this.masterExit = new Promise((resolve) => child.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) => reject(new ServerError(`Could not start ${def.python}: ${error.message}`, 'spawn')));
    });
    this.masterPid = child.pid;
    this.masterIdentity = child.pid === undefined ? undefined : identityOf(child.pid);
    for (const stream of [child.stdout, child.stderr]) {
      const splitter = new LineSplitter((line) => this.masterLine(line));
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.on('end', () => splitter.end());
    }
    child.once('exit', (code, signal) => this.masterExited(code, signal));
    this.statsTimer = setInterval(() => this.sampleStats(), this.options.statsIntervalMs ?? 1000);
    this.statsTimer.unref();
    this.changed();
  }

  // ---- agent connections -------------------------------------------------------------------------------------

  private acceptControl(connection: ControlConnection): void {
    const { hello } = connection;
    if (hello.role === 'master') {
      if (hello.pid !== this.masterPid) {
        connection.close();
        return;
      }
      this.masterControl = connection;
      connection.onMessage((message) => this.masterMessage(message));
      if (this.adapter.runsInOneProcess(this.definition)) this.workerFor(hello.pid);
      return;
    }
    const worker = this.workerFor(hello.pid);
    if (!worker) {
      connection.close();
      return;
    }
    worker.control = connection;
    connection.onMessage((message) => {
      if (message.t === 'ready') this.markReady(worker);
    });
    const boot = this.options.onWorkerBoot;
    if (boot) {
      boot(toWorkerModel(worker)).then(
        (answer) => connection.send({ ...answer, t: 'boot' }),
        () => connection.send({ t: 'boot' }),
      );
    }
  }

  /** Marks a worker as being debugged (the tree shows it); the mark goes with the worker, not its slot. */
  setDebugging(pid: number, debugging: boolean): void {
    const worker = this.byPid.get(pid);
    if (!worker || worker.debugging === debugging) return;
    worker.debugging = debugging;
    this.changed();
  }

  private acceptData(hello: AgentHello, socket: net.Socket, initial: Buffer): void {
    const worker = hello.role === 'worker' ? this.workerFor(hello.pid) : undefined;
    if (!worker) {
      socket.destroy();
      return;
    }
    worker.sockets.add(socket);
    // One event per read, with all its lines: a flood arrives in 64 KiB reads of about a thousand lines each.
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const take = (chunk?: Buffer) => {
      if (chunk) splitter.push(chunk);
      else splitter.end();
      if (lines.length > 0) this.workerLines(worker, lines.splice(0));
    };
    if (initial.length > 0) take(initial);
    onCoalescedData(socket, take, this.readPacer);
    socket.on('close', () => {
      take();
      worker.sockets.delete(socket);
      if (worker.sockets.size === 0) setTimeout(() => this.checkExited(worker.pid), 1000).unref();
    });
  }

  private masterMessage(message: AgentMessage): void {
    if (message.t === 'exit' && typeof message.pid === 'number') {
      const code = typeof message.code === 'number' ? message.code : null;
      const signal = typeof message.signal === 'string' ? message.signal : null;
      this.workerExited(message.pid, describeExit(code, signal, this.timedOutPids.has(message.pid)));
    } else if (message.t === 'ready' && this.masterPid !== undefined) {
      const self = this.byPid.get(this.masterPid);
      if (self) this.markReady(self);
    }
  }

  // ---- the worker model --------------------------------------------------------------------------------------

  /** The record of a worker pid, created (with a slot) on first sight. */
  private workerFor(pid: number): WorkerRecord | undefined {
    const known = this.byPid.get(pid);
    if (known) return known;
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed') return undefined;
    // A hello (or a log line) only claims a pid: the supervisor signals its workers, so a worker must be the master's.
    if (!this.masterIdentity || !isSelfOrDescendant(pid, this.masterIdentity)) return undefined;
    this.recordUnreportedExits();
    const { slot, previous } = this.assignSlot();
    const worker: WorkerRecord = {
      slot,
      pid,
      state: 'booting',
      startedAt: Date.now(),
      restarts: previous?.restarts ?? 0,
      cpuPercent: 0,
      rssBytes: 0,
      sockets: new Set(),
    };
    if (previous) {
      worker.previousPid = previous.pid;
      const replacedAfterDeath = previous.state === 'exited' && !this.reloadGeneration.has(previous);
      if (replacedAfterDeath) worker.restarts++;
      worker.lastExit = previous.lastExit;
      const why = replacedAfterDeath ? `restarted: pid ${previous.pid} ${previous.lastExit?.text ?? 'exited'}` : `reloaded: pid ${previous.pid} retires`;
      this.reloadGeneration.delete(previous);
      if (previous.state !== 'exited') {
        previous.state = 'stopping';
        this.retiring.add(previous);
      }
      this.onOutput.fire({ slot, pid, lines: [`── worker ${slot} ${why} → new pid ${pid}`], marker: true });
    }
    this.slots.set(slot, worker);
    this.byPid.set(pid, worker);
    this.onWorker.fire({ type: 'up', worker: toWorkerModel(worker) });
    this.changed();
    return worker;
  }

  /**
   * The master reports an exit on its own connection, the replacement says hello on another: Node may read the hello
   * first. So before a new worker takes a slot, a slot holder that /proc shows dead is recorded as exited now, with
   * the best reason known yet; the master's report corrects it when it arrives.
   */
  private recordUnreportedExits(): void {
    for (const worker of [...this.slots.values()]) {
      if (worker.state === 'exited' || isAlive(worker.pid)) continue;
      const zombie = zombieExit(worker.pid);
      const sent = this.sentSignals.get(worker.pid);
      const timedOut = this.timedOutPids.has(worker.pid);
      const reason = zombie ? describeExit(zombie.code, zombie.signal, timedOut)
        : sent ? describeExit(null, sent, timedOut)
        : this.loggedExits.get(worker.pid) ?? describeExit(null, null, timedOut);
      this.workerExited(worker.pid, reason);
    }
  }

  /** A new worker takes the slot of the old generation during a reload, else of a dead worker, else the lowest free one. */
  private assignSlot(): { slot: number; previous?: WorkerRecord } {
    const byLowestSlot = (a: WorkerRecord, b: WorkerRecord) => a.slot - b.slot;
    const reloading = [...this.reloadGeneration].filter((w) => this.slots.get(w.slot) === w).sort(byLowestSlot);
    if (reloading.length > 0) return { slot: reloading[0].slot, previous: reloading[0] };
    const dead = [...this.slots.values()].filter((w) => w.state === 'exited').sort(byLowestSlot);
    if (dead.length > 0) return { slot: dead[0].slot, previous: dead[0] };
    let slot = 1;
    while (this.slots.has(slot)) slot++;
    return { slot };
  }

  private markReady(worker: WorkerRecord): void {
    if (worker.state !== 'booting') return;
    worker.state = 'ready';
    this.onWorker.fire({ type: 'ready', worker: toWorkerModel(worker) });
    this.changed();
  }

  private workerExited(pid: number, reason: ExitReason): void {
    const worker = this.byPid.get(pid);
    if (!worker || worker.state === 'exited') {
      this.correctExitReason(pid, reason);
      return;
    }
    this.byPid.delete(pid);
    this.suspectedDead.delete(pid);
    this.sampler.forget(this.knownPids());
    const diedBooting = worker.state === 'booting';
    worker.state = 'exited';
    worker.lastExit = worker.recycledBecause ? { ...reason, text: `${worker.recycledBecause} (${reason.text})` } : reason;
    worker.cpuPercent = 0;
    if (this.retiring.delete(worker)) {
      // An old generation's worker finished: its slot already belongs to its successor.
    } else if (this.reloadGeneration.delete(worker)) {
      // Retired by a reload before a successor took its slot: the slot closes; the next new worker takes the lowest free one.
      this.slots.delete(worker.slot);
    } else if (this.pendingRemovals > 0 && this.slots.get(worker.slot) === worker) {
      this.pendingRemovals--;
      this.slots.delete(worker.slot);
      this.onOutput.fire({ slot: worker.slot, pid, lines: [`── worker ${worker.slot} (pid ${pid}) removed by scaling down`], marker: true });
    } else if (!this.capabilities?.respawnsWorkers && this.state === 'running') {
      this.onOutput.fire({ slot: worker.slot, pid, lines: [`── worker ${worker.slot} (pid ${pid}) ${reason.text}; ${this.definition.server} does not replace it`], marker: true });
    }
    this.onWorker.fire({ type: 'exit', worker: toWorkerModel(worker) });
    this.changed();
    if (diedBooting && this.state !== 'stopping' && this.state !== 'restarting') this.countBootFailure();
  }

  /** Workers that die before they are ready, again and again: stop the retries instead of looping forever. */
  private countBootFailure(): void {
    const now = Date.now();
    this.bootFailures = this.bootFailures.filter((at) => now - at < BOOT_FAILURE_WINDOW_MS);
    this.bootFailures.push(now);
    const limit = this.state === 'starting' ? this.definition.workers + 2 : BOOT_FAILURE_LIMIT;
    if (this.bootFailures.length < limit) return;
    this.fail(this.failureReport(`Workers keep failing at boot (${this.bootFailures.length} exited before they were ready); Server Workers stopped the retries.`));
  }

  /** The restart policy: clean up what is left of the run, wait the backoff, start again. */
  private restartAfterFailure(error: string, delayMs: number): void {
    this.error = error;
    this.setState('restarting');
    this.rejectWaiters(new ServerError(error, 'boot'));
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
    this.rejectWaiters(new ServerError(message, 'boot'));
    void this.stop();
  }

  /** A failure said for people: the summary, a worker's traceback (or its last lines), the master's last lines. */
  private failureReport(summary: string): string {
    const traceback = this.bootTail.lastIndexOf('Traceback (most recent call last):');
    const workerLines = (traceback >= 0 ? this.bootTail.slice(traceback) : this.bootTail.filter((l) => l.trim() !== '').slice(-6)).join('\n');
    const masterLines = this.masterTail.filter((l) => l.trim() !== '').slice(-8).join('\n');
    return summary
      + (workerLines ? `\nA worker's last output:\n${workerLines}` : '')
      + (masterLines ? `\nThe master's last output:\n${masterLines}` : '');
  }

  /** The master's report of an exit already recorded from /proc: its reason is the exact one. */
  private correctExitReason(pid: number, reason: ExitReason): void {
    for (const worker of this.slots.values()) {
      if (worker.pid === pid && worker.state === 'exited') worker.lastExit = reason;
      else if (worker.lastExit && worker.previousPid === pid) worker.lastExit = reason;
    }
    this.changed();
  }

  /** A worker's streams closed: if its process is gone and no exit message came, record the exit with what is known. */
  private checkExited(pid: number): void {
    if (!this.byPid.has(pid) || isAlive(pid)) return;
    const zombie = zombieExit(pid);
    const timedOut = this.timedOutPids.has(pid);
    this.workerExited(pid, zombie ? describeExit(zombie.code, zombie.signal, timedOut) : this.loggedExits.get(pid) ?? describeExit(null, null, timedOut));
  }

  private liveWorkerCount(): number {
    let count = 0;
    for (const worker of this.slots.values()) if (worker.state !== 'exited') count++;
    return count;
  }

  private allLiveReady(): boolean {
    return [...this.slots.values()].every((w) => w.state === 'ready');
  }

  private allReady(): boolean {
    const workers = [...this.slots.values()];
    return workers.length === this.definition.workers && workers.every((w) => w.state === 'ready');
  }

  // ---- output ------------------------------------------------------------------------------------------------

  private workerLines(worker: WorkerRecord, lines: string[]): void {
    this.onOutput.fire({ slot: worker.slot, pid: worker.pid, lines });
    if (worker.state === 'booting') pushTail(this.bootTail, lines);
    if (!this.agentEnabled) return;
    for (const line of lines) {
      const fact = parseWorkerLogFact(line);
      if (fact?.kind === 'timeout') this.timedOutPids.add(fact.pid);
    }
  }

  private masterLine(line: string): void {
    pushTail(this.masterTail, [line]);
    const fact = parseWorkerLogFact(line);
    if (fact?.kind === 'timeout') this.timedOutPids.add(fact.pid);
    if (fact?.kind === 'signalled') this.loggedExits.set(fact.pid, describeExit(null, fact.signal ?? null, this.timedOutPids.has(fact.pid)));
    if (fact?.kind === 'exited') this.loggedExits.set(fact.pid, describeExit(fact.code ?? null, null, this.timedOutPids.has(fact.pid)));
    if (!this.agentEnabled && this.fallbackLine(line)) return;
    this.onOutput.fire({ slot: 0, pid: this.masterPid ?? 0, lines: [line] });
  }

  /** Without the agent: a line that names a worker's pid (and the lines that follow it) go to that worker. */
  private fallbackLine(line: string): boolean {
    const pid = pidOfLogLine(line);
    const fact = parseWorkerLogFact(line);
    if (fact && (fact.kind === 'booting' || fact.kind === 'started') && fact.pid !== this.masterPid) {
      const worker = this.workerFor(fact.pid);
      if (worker && (fact.kind === 'started' || !this.usesUvicornWorkers())) this.markReady(worker);
    }
    if (pid !== undefined) this.lastFallbackPid = pid;
    const target = this.lastFallbackPid !== undefined ? this.byPid.get(this.lastFallbackPid) : undefined;
    if (!target || target.pid === this.masterPid) return false;
    this.onOutput.fire({ slot: target.slot, pid: target.pid, lines: [line] });
    return true;
  }

  private usesUvicornWorkers(): boolean {
    return this.definition.server === 'uvicorn' || !this.definition.workerClass || this.definition.workerClass.toLowerCase().includes('uvicorn');
  }

  // ---- stats and /proc ---------------------------------------------------------------------------------------

  private sampleStats(): void {
    const now = Date.now();
    if (this.masterPid !== undefined) {
      const usage = this.sampler.sample(this.masterPid, now);
      if (usage) this.masterUsage = usage;
    }
    for (const worker of [...this.byPid.values()]) {
      const usage = this.sampler.sample(worker.pid, now);
      if (usage) {
        worker.cpuPercent = usage.cpuPercent;
        worker.rssBytes = usage.rssBytes;
        this.suspectedDead.delete(worker.pid);
        this.enforceMemoryLimit(worker);
      } else if (!this.suspectedDead.has(worker.pid)) {
        this.suspectedDead.set(worker.pid, now);
      } else {
        this.checkExited(worker.pid);
      }
    }
    if (!this.agentEnabled) this.discoverChildren();
    if (this.state === 'running' && now - this.runningSince > STEADY_RUN_MS) this.policyRestarts = 0;
    this.changed();
  }

  /** A ready worker over the memory limit is recycled gracefully: SIGTERM, it finishes its requests, the server replaces it. */
  private enforceMemoryLimit(worker: WorkerRecord): void {
    const limitMb = this.definition.maxMemoryMb;
    if (limitMb === undefined || worker.state !== 'ready' || worker.recycledBecause || this.state !== 'running') return;
    const usedMb = worker.rssBytes / (1024 * 1024);
    if (usedMb <= limitMb) return;
    worker.recycledBecause = `recycled: it used ${Math.round(usedMb)} MiB, over the ${limitMb} MiB limit`;
    this.onOutput.fire({ slot: worker.slot, pid: worker.pid, lines: [`── worker ${worker.slot} (pid ${worker.pid}) uses ${Math.round(usedMb)} MiB, over the ${limitMb} MiB limit: recycling it gracefully`], marker: true });
    try {
      process.kill(worker.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  /** Without the agent, workers are the master's children (minus helpers such as multiprocessing's resource tracker). */
  private discoverChildren(): void {
    if (this.masterPid === undefined || this.state === 'stopping') return;
    for (const pid of childrenOf(this.masterPid)) {
      if (this.byPid.has(pid)) continue;
      const command = commandLine(pid);
      if (command.includes('resource_tracker')) continue;
      if (this.definition.server === 'uvicorn' && !command.includes('--multiprocessing-fork')) continue;
      this.workerFor(pid);
    }
  }

  // ---- control -----------------------------------------------------------------------------------------------

  private signalMaster(signal: NodeJS.Signals): void {
    if (this.masterPid === undefined) throw new ServerError('The server is not running.', 'state');
    process.kill(this.masterPid, signal);
  }

  private requireRunning(action: string): void {
    if (this.state !== 'running') {
      throw new ServerError(`Cannot ${action} the server "${this.definition.name}" while it is ${this.state}.`, 'state');
    }
  }

  /** Operations run one at a time, in the order they were asked for. */
  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.operation.then(operation, operation);
    this.operation = next.catch(() => undefined);
    return next;
  }

  private async stopNow(): Promise<void> {
    this.preLaunchChild?.kill('SIGKILL');
    const child = this.child;
    const pgid = this.masterPid;
    if (!child || pgid === undefined) {
      await this.release();
      if (this.state !== 'restarting') this.setState(this.failing ? 'failed' : 'stopped');
      return;
    }
    const restarting = this.state === 'restarting';
    if (!restarting) this.setState('stopping');
    this.rejectWaiters(new ServerError(`The server "${this.definition.name}" was stopped.`, 'stopped'));
    for (const worker of this.byPid.values()) worker.state = 'stopping';
    this.changed();
    if (this.masterRunning()) {
      try {
        process.kill(pgid, 'SIGTERM');
      } catch {
        // already gone
      }
      const graceMs = this.definition.gracefulTimeout * 1000 + 2000;
      const exited = await Promise.race([this.masterExit!.then(() => true), delay(graceMs).then(() => false)]);
      if (!exited) {
        await new Promise<void>((resolve) => treeKill(pgid, 'SIGKILL', () => resolve()));
      }
    }
    await this.killRemainder(pgid);
    await this.masterExit;
    await this.release();
    if (this.failing) this.setState('failed');
    else if (!restarting) this.setState('stopped');
  }

  /** SIGKILL to whatever of the process group (and known pids) outlived the master, until /proc shows none. */
  private async killRemainder(pgid: number): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const left = new Set([...processGroupMembers(pgid), ...[...this.byPid.keys()].filter(isAlive)]);
      if (left.size === 0) return;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // the group may be empty already
      }
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (Date.now() > deadline) return;
      await delay(50);
    }
  }

  private async release(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    for (const worker of this.byPid.values()) {
      worker.state = 'exited';
      for (const socket of worker.sockets) socket.destroy();
      worker.control?.close();
    }
    this.byPid.clear();
    this.retiring.clear();
    this.masterControl?.close();
    this.masterControl = undefined;
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close();
    if (this.runtimeDir) fs.rmSync(this.runtimeDir, { recursive: true, force: true });
    this.runtimeDir = undefined;
  }

  private masterExited(code: number | null, signal: NodeJS.Signals | null): void {
    const expected = this.state === 'stopping' || this.state === 'restarting';
    let error: string | undefined;
    let restartInMs: number | undefined;
    if (!expected) {
      // Gunicorn logs "Reason: …" when it halts; 27.x can crash while halting and leave only the HaltServer repr.
      const reason = this.masterTail.map((l) => /Reason: (.+)$|HaltServer '([^']+)'/.exec(l)).filter(Boolean).map((m) => m![1] ?? m![2]).pop();
      error = this.failureReport(`The ${this.definition.server} master (pid ${this.masterPid}) ${describeExit(code, signal).text}${reason ? `: ${reason}` : '.'}`);
      const wasServing = this.state === 'running' || this.state === 'scaling' || this.state === 'reloading';
      if (wasServing && this.definition.restart === 'on-failure' && this.policyRestarts < this.definition.restartMax) {
        this.policyRestarts++;
        restartInMs = RESTART_BACKOFF_MS * 2 ** (this.policyRestarts - 1);
        this.restartAfterFailure(error, restartInMs);
      } else {
        this.fail(error);
      }
    }
    this.onExit.fire({ expected, code, signal, error, restartInMs, restartAttempt: restartInMs === undefined ? undefined : this.policyRestarts });
    this.changed();
  }

  // ---- waiting and change --------------------------------------------------------------------------------------

  private waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        done,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new ServerError(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (server "${this.definition.name}").`, 'timeout'));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private rejectWaiters(error: Error): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  private setState(state: ServerState): void {
    if (this.state === state) return;
    this.state = state;
    this.changed();
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.done()) {
        this.waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve();
      }
    }
    this.onDidChange.fire(this.model());
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
}

function toWorkerModel(worker: WorkerRecord): WorkerModel {
  return {
    slot: worker.slot,
    pid: worker.pid,
    state: worker.state,
    startedAt: worker.startedAt,
    restarts: worker.restarts,
    lastExit: worker.lastExit,
    cpuPercent: worker.cpuPercent,
    rssBytes: worker.rssBytes,
    debugging: worker.debugging ?? false,
  };
}

function pushTail(tail: string[], lines: string[]): void {
  tail.push(...lines);
  if (tail.length > MASTER_TAIL_LINES) tail.splice(0, tail.length - MASTER_TAIL_LINES);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a server could listen on host:port: free, in use (EADDRINUSE), denied (EACCES: a privileged port), or not an address here. */
function probePort(host: string, port: number): Promise<'free' | 'in-use' | 'denied' | 'no-such-address'> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EACCES' ? 'denied' : error.code === 'EADDRNOTAVAIL' ? 'no-such-address' : error.code === 'EADDRINUSE' ? 'in-use' : 'free');
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve('free')));
  });
}

export type { ProcessModel };
