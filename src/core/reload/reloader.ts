/**
 * A server's reloads: every trigger (a watched save, the Reload Workers command, the tree's button, the CLI's
 * {"cmd":"reload"}) takes this one path. Changes that come while a reload waits its turn join it; the method is the
 * server's (generationSwap, its own reload by signal, or a restart; both after an import check); a reload whose new
 * code does not boot (an error, an exit of any kind, a hang past the reload timeout) leaves the previous generation
 * serving, removes what it started, and says why (file, line, message), in the model and as events. A stop ends the
 * reload's import check with all it started.
 */
import type { Capabilities } from '../adapters';
import { gunicornControlSocket } from '../adapters/gunicorn';
import type { ResolvedDefinition } from '../definition';
import { ServerError } from '../errors';
import type { Emitter } from '../events';
import type { ReloadFailure, ReloadModel, ServerState } from '../model';
import type { OutputEvent, WorkerEvent } from '../serverEvents';
import type { ServerRun } from '../serverRun';
import type { Waiters } from '../waiters';
import { swapGenerations } from './generationSwap';
import { checkAppImports } from './importCheck';
import { NewWorkers } from './newWorkers';
import { chooseReloadMethod, warmsMaster, type MasterFacts, type MethodChoice } from './reloadMethod';
import { signalReload } from './signalReload';
import { warmMaster } from './warmMaster';
import type { MethodContext, ReloadEvent, ReloadOutcome } from './reloadTypes';

/** What the reloader uses of its supervisor. */
export interface ReloadHost {
  definition(): ResolvedDefinition;
  state(): ServerState;
  run(): ServerRun | undefined;
  capabilities(): Capabilities | undefined;
  waiters: Waiters;
  /** Runs after the operations asked before it (the supervisor's queue). */
  serialize<T>(operation: () => Promise<T>): Promise<T>;
  setState(state: ServerState): void;
  /** Stops the server and starts it again; its first workers are of `generation`. */
  restart(generation: number): Promise<void>;
  changed(): void;
  /** How long a reload's new code may take to import and boot before the save is refused (seconds). */
  timeoutSeconds(): number;
  output: Emitter<OutputEvent>;
  workers: Emitter<WorkerEvent>;
  events: Emitter<ReloadEvent>;
}

export class Reloader {
  private onSave: boolean;
  private choice: MethodChoice | undefined;
  private announced = false;
  private failure: ReloadFailure | undefined;
  /** The generation serving: the run's first, or the last reload's that succeeded. */
  private serving = 1;
  /** A reload asked for and not begun yet: later changes join it. */
  private queued: { files: Set<string>; done: Promise<void> } | undefined;
  /** The current reload's new workers (booting, or dead before they were ready) and their output. */
  private readonly newWorkers = new NewWorkers();
  /** Ends the current reload's import check (the server stops meanwhile). */
  private checkAbort: AbortController | undefined;
  /** The master's facts being asked for (a reload right after the start waits for them). */
  private masterFacts: Promise<void> = Promise.resolve();
  /** The run whose master was asked to import the app's libraries (once per run). */
  private warmed: { run: ServerRun; done: Promise<void> } | undefined;

  constructor(private readonly host: ReloadHost, onSave: boolean) {
    this.onSave = onSave;
    host.workers.on((event) => this.workerEvent(event));
    host.output.on((event) => this.newWorkers.outputEvent(event));
  }

  model(): ReloadModel {
    return Object.freeze({ onSave: this.onSave, method: this.choice?.method, restartBecause: this.choice?.restartBecause, generation: this.serving, failure: this.failure });
  }

  setOnSave(on: boolean): void {
    if (this.onSave === on) return;
    this.onSave = on;
    const run = this.host.run();
    if (on && run && this.choice && warmsMaster(this.choice, this.host.definition())) void this.warm(run);
    this.host.changed();
  }

  /** Reloads to come (on save): the master imports the app's libraries now, not at the first reload. */
  private warm(run: ServerRun): Promise<void> {
    if (this.warmed?.run !== run) this.warmed = { run, done: warmMaster(run).catch(() => undefined) };
    return this.warmed.done;
  }

  /** A run is serving: its master's facts decide the method (a restart is said once); the boot guard goes on. */
  serverRunning(run: ServerRun): Promise<void> {
    this.choice = undefined;
    this.masterFacts = this.askMaster(run);
    return this.masterFacts;
  }

  private async askMaster(run: ServerRun): Promise<void> {
    this.serving = run.table.currentGeneration;
    const reply = await run.requestMaster({ t: 'guard-boots' }).catch(() => undefined);
    const facts: MasterFacts | undefined = reply?.t === 'guard-boots'
      ? { guarding: reply.guarding === true, preload: reply.preload === true, rolling: reply.rolling === true }
      : undefined;
    const capabilities = this.host.capabilities();
    if (this.host.run() !== run || !capabilities) return;
    run.bootsGuarded = facts?.guarding === true;
    this.choice = chooseReloadMethod(this.host.definition(), capabilities, facts);
    if (warmsMaster(this.choice, this.host.definition()) && this.onSave) void this.warm(run);
    if (!this.announced && (this.choice.restartBecause || this.choice.caveat)) {
      this.announced = true;
      this.marker(this.choice.restartBecause
        ? `── reload: ${this.choice.restartBecause} (requests are refused while it restarts).`
        : `── reload: ${this.choice.caveat}.`);
    }
    this.host.changed();
  }

  /** Reloads (after the operations before it); `files` changed. Rejects when the new code did not boot. */
  request(files: string[] = []): Promise<void> {
    if (this.queued) {
      for (const file of files) this.queued.files.add(file);
      return this.queued.done;
    }
    const queued = { files: new Set(files), done: Promise.resolve() };
    queued.done = this.host.serialize(() => {
      if (this.queued === queued) this.queued = undefined;
      return this.reloadNow([...queued.files]);
    });
    this.queued = queued;
    return queued.done;
  }

  private async reloadNow(files: string[]): Promise<void> {
    await this.masterFacts;
    const run = this.host.run();
    const capabilities = this.host.capabilities();
    if (this.host.state() !== 'running' || !run || !capabilities) {
      throw new ServerError(`Cannot reload the server "${this.host.definition().name}" while it is ${this.host.state()}.`, 'state');
    }
    const choice = this.choice ?? chooseReloadMethod(this.host.definition(), capabilities, undefined);
    const generation = run.table.currentGeneration + 1;
    const started = Date.now();
    this.newWorkers.begin(generation);
    this.host.events.fire({ type: 'started', files, method: choice.method, generation });
    this.marker(`── reload to generation ${generation}${files.length ? `: ${describeFiles(files)} changed` : ''}`);
    this.host.setState('reloading');
    let outcome: ReloadOutcome;
    try {
      outcome = await this.runMethod(choice, run, generation);
    } catch (error) {
      if (error instanceof ServerError && error.reason === 'stopped') throw error; // stopped meanwhile: not a failed reload
      outcome = { ok: false, failure: { message: error instanceof Error ? error.message : String(error), details: '' } };
    } finally {
      this.newWorkers.end();
    }
    const seconds = (Date.now() - started) / 1000;
    if (this.host.state() === 'reloading') this.host.setState('running');
    if (outcome.ok) {
      this.serving = this.host.run()?.table.currentGeneration ?? generation;
      this.failure = undefined;
      this.marker(`── reloaded: generation ${this.serving} serving (${seconds.toFixed(2)} s)`);
      this.host.events.fire({ type: 'reloaded', method: choice.method, generation: this.serving, seconds });
      this.host.changed();
      return;
    }
    this.failed(choice, outcome.failure, seconds);
  }

  private runMethod(choice: MethodChoice, run: ServerRun, generation: number): Promise<ReloadOutcome> {
    const context: MethodContext = {
      run,
      definition: this.host.definition(),
      waiters: this.host.waiters,
      bootLimitSeconds: this.host.timeoutSeconds(),
      changed: () => this.host.changed(),
      failureOfNewWorkers: () => this.newWorkers.failure(this.host.definition().cwd, this.host.definition().app),
      endHungWorkers: () => this.newWorkers.endHung(run, this.host.waiters, this.host.timeoutSeconds(), this.host.definition().cwd),
    };
    if (choice.method === 'swap') return this.warm(run).then(() => swapGenerations(context, gunicornControlSocket(run.runtimeFolder!)));
    if (choice.method === 'restart') return this.restart(generation);
    if (warmsMaster(choice, context.definition)) return this.warm(run).then(() => this.bySignal(context, choice));
    return this.bySignal(context, choice);
  }

  /** The server's own reload (SIGHUP); where it would not keep the old workers for broken code, the app is imported first. */
  private async bySignal(context: MethodContext, choice: MethodChoice): Promise<ReloadOutcome> {
    if (!choice.importCheckFirst) return signalReload(context);
    const check = await this.checkImports(context.run);
    if (!check.ok) return check;
    return signalReload(context);
  }

  private async restart(generation: number): Promise<ReloadOutcome> {
    const check = await this.checkImports();
    if (!check.ok) return check;
    await this.host.restart(generation);
    return { ok: true };
  }

  /** The app's import, checked first; the breakpoint() calls it skipped are said before the new workers stop at them. */
  private async checkImports(run?: ServerRun): Promise<ReloadOutcome> {
    const abort = new AbortController();
    this.checkAbort = abort;
    try {
      const check = await checkAppImports(this.host.definition(), this.host.timeoutSeconds(), abort.signal, run);
      if (check.ok && check.skippedBreakpoints) this.marker(`── reload: the import check skipped breakpoint() at ${check.skippedBreakpoints.join(', ')}; the new workers stop there`);
      return check;
    } finally {
      if (this.checkAbort === abort) this.checkAbort = undefined;
    }
  }

  /** The server stops: the import check running now ends, with everything it started (the reload then rejects as stopped). */
  abort(): void {
    this.checkAbort?.abort();
  }

  private failed(choice: MethodChoice, failure: Omit<ReloadFailure, 'servingGeneration'>, seconds: number): never {
    const run = this.host.run();
    const serving = run?.table.snapshot().workers.filter((w) => w.state === 'ready') ?? [];
    this.failure = Object.freeze({ ...failure, servingGeneration: this.serving });
    const where = failure.file ? ` (${failure.file}${failure.line ? `:${failure.line}` : ''})` : '';
    // A restart that did not start again (what only the server's startup shows) leaves nothing serving.
    const outcome = serving.length > 0 ? `serving the previous code (generation ${this.serving})` : 'the server is not serving';
    this.marker(`── reload failed, ${outcome}: ${failure.message}${where}`);
    this.host.events.fire({ type: 'failed', method: choice.method, failure: this.failure, seconds, serving: { generation: this.serving, pids: serving.map((w) => w.pid) } });
    this.host.changed();
    const location = failure.file && failure.line ? { file: failure.file, line: failure.line } : undefined;
    throw new ServerError(`Reload failed, ${serving.length > 0 ? 'serving the previous code' : 'the server is not serving'}: ${failure.message}${where}`, 'boot', { location });
  }

  private workerEvent(event: WorkerEvent): void {
    this.newWorkers.workerEvent(event);
    // Granian's master (the agent's granian_reload.py) stops each old worker once its successor is ready; also on a
    // SIGHUP sent from outside, so every ready Granian worker is told.
    if (event.type === 'ready' && this.host.definition().server === 'granian') {
      void this.host.run()?.requestMaster({ t: 'worker-ready', pid: event.worker.pid }).catch(() => undefined);
    }
  }

  private marker(line: string): void {
    this.host.output.fire({ slot: 0, pid: this.host.run()?.master?.pid ?? 0, lines: [line], marker: true });
  }
}

function describeFiles(files: string[]): string {
  const names = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${names} and ${files.length - 3} more` : names;
}
