// Shared helpers of the benchmark (scripts/bench.mjs): the built core, servers in the three ways the benchmark
// starts them, statistics, small utilities.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/ports.cjs';

export { freePort };

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const python = path.join(repoRoot, '.venv', 'bin', 'python');
export const agentDir = path.join(repoRoot, 'python');
export const benchFixtures = path.join(repoRoot, 'test', 'fixtures', 'bench');
export const fastapiExample = path.join(repoRoot, 'examples', 'fastapi');
const require = createRequire(import.meta.url);

/** Wall-clock milliseconds with sub-millisecond precision (comparable with Python's time.time_ns()). */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The core as the extension ships it: src/core/ and the output channels' batching (src/extension/outputChannels.ts,
 * with scripts/bench/vscode-stub.cjs as `vscode`), bundled by esbuild with the options of scripts/build.mjs.
 */
export async function loadCore() {
  const { build, stop } = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'core.cjs');
  const stub = path.join(repoRoot, 'scripts', 'bench', 'vscode-stub.cjs');
  await build({
    stdin: {
      contents: [
        "export { Supervisor } from './src/core/supervisor';",
        "export { resolveDefinition } from './src/core/definition';",
        "export { adapterFor } from './src/core/adapters';",
        "export { detectEnvironment } from './src/core/pythonEnvironment';",
        "export { readProcStat } from './src/core/process/procfs';",
        "export { WorkerChannels, channelName } from './src/extension/outputChannels';",
        "export { ChangeBatcher } from './src/core/reload/changeBatcher';",
        "export { FileWatcher } from './src/core/reload/fileWatcher';",
        "export { setOutputSink } from 'vscode';",
      ].join('\n'),
      resolveDir: repoRoot,
      loader: 'ts',
      sourcefile: 'bench-core.ts',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    logLevel: 'warning',
    // `vscode` is the stub, required at run time (one instance, shared with this module's setOutputSink).
    plugins: [{ name: 'vscode-stub', setup: (b) => b.onResolve({ filter: /^vscode$/ }, () => ({ path: stub, external: true })) }],
  });
  // esbuild's service process pings this one every second while it runs: the idle figures (section 5) would count it.
  await stop();
  delete require.cache[outfile];
  return require(outfile);
}

/**
 * Receives what the extension's output channels receive (through the vscode stub), per channel name; `onText`
 * listeners see each append/replace with its arrival time.
 */
export class ChannelSink {
  constructor(core) {
    this.channels = new Map();
    this.listeners = new Set();
    core.setOutputSink({
      append: (name, text) => this.receive(name, text, false),
      replace: (name, text) => this.receive(name, text, true),
    });
  }

  receive(name, text, replaced) {
    const at = nowMs();
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { appends: 0, replaces: 0, bytes: 0, lastLine: '' };
      this.channels.set(name, channel);
    }
    if (replaced) channel.replaces++;
    else channel.appends++;
    channel.bytes += text.length;
    const end = text.endsWith('\n') ? text.length - 1 : text.length;
    // A copy, not a slice: a slice would keep the whole appended text alive until the next append (VS Code does not
    // hold it), and the flood's memory figure would count it.
    channel.lastLine = Buffer.from(text.slice(text.lastIndexOf('\n', end - 1) + 1, end)).toString();
    for (const listener of this.listeners) listener(name, text, at, replaced);
  }

  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Appends, replaces and characters received, by the channels whose names start with `prefix`. */
  totals(prefix = '') {
    let appends = 0;
    let replaces = 0;
    let bytes = 0;
    for (const [name, c] of this.channels) {
      if (!name.startsWith(prefix)) continue;
      appends += c.appends;
      replaces += c.replaces;
      bytes += c.bytes;
    }
    return { appends, replaces, bytes };
  }
}

let serverCount = 0;

/**
 * A server under the core, with the extension's full per-worker pipeline: the Supervisor with the agent, and the
 * output channels' batching (WorkerChannels) writing to the sink; request insight on unless `insight: false` (the
 * throughput section's b, against which b' measures its cost). `onCreate(supervisor)` runs before the start.
 */
export async function startCoreServer(core, {
  app, cwd, workers, env = {}, args = [], insight = true, statsIntervalMs, onCreate, server: kind, workerClass, reloadTimeout,
}) {
  const port = await freePort();
  const name = `bench-${++serverCount}`;
  const definition = core.resolveDefinition(
    { name, app, workers, cwd, env, args, insight, bind: `127.0.0.1:${port}`, gracefulTimeout: 3, server: kind, workerClass, reloadTimeout },
    { defaultPython: python, defaultCwd: cwd, defaultWorkers: workers },
  );
  const supervisor = new core.Supervisor(definition, { agentDir, ...(statsIntervalMs ? { statsIntervalMs } : {}) });
  // The registry's part of it: one server, whose listeners (its disposables) end with it.
  const disposables = [];
  const channels = new core.WorkerChannels({
    onDidAdd: (listener) => {
      listener({ supervisor, folder: undefined, disposables });
      return { dispose() {} };
    },
  });
  const disposeServer = () => {
    for (const disposable of disposables.splice(0)) disposable.dispose();
    channels.dispose();
  };
  const server = {
    kind: 'core',
    name,
    port,
    supervisor,
    channels,
    channelName: (slot) => core.channelName(name, slot),
    async stop() {
      await supervisor.stop();
      disposeServer();
    },
  };
  onCreate?.(supervisor);
  try {
    await supervisor.start();
  } catch (error) {
    disposeServer();
    throw error;
  }
  return server;
}

/** The server's argv as the adapter makes it (the core's own), on a free port, for a server started without the core. */
export async function plainServerArgv(core, { app, cwd, workers, env = {}, args = [] }, runtimeDir) {
  const port = await freePort();
  const definition = core.resolveDefinition(
    { app, workers, cwd, env, args, bind: `127.0.0.1:${port}`, gracefulTimeout: 3 },
    { defaultPython: python, defaultCwd: cwd, defaultWorkers: workers },
  );
  const environment = await core.detectEnvironment(python);
  return { port, definition, argv: core.adapterFor(definition.server).argv(definition, environment, { runtimeDir }) };
}

/**
 * The same server without the extension: the adapter's argv, the same environment minus the agent, its output
 * to /dev/null (`output: 'null'`) or to pipes that this process drains (`output: 'pipe'`, as a terminal does).
 */
export async function startPlainServer(core, { app, cwd, workers, env = {}, args = [], output }) {
  const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-workers-bench-'));
  const { port, definition, argv } = await plainServerArgv(core, { app, cwd, workers, env, args }, runtimeDir);
  const devNull = output === 'null' ? fs.openSync('/dev/null', 'w') : undefined;
  const child = spawn(python, argv, {
    cwd,
    env: { ...process.env, ...definition.env, PYTHONUNBUFFERED: '1' },
    detached: true,
    stdio: output === 'null' ? ['ignore', devNull, devNull] : ['ignore', 'pipe', 'pipe'],
  });
  if (devNull !== undefined) fs.closeSync(devNull);
  const drained = { bytes: 0, chunks: 0 };
  if (output === 'pipe') {
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => {
        drained.bytes += chunk.length;
        drained.chunks++;
      });
    }
  }
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', () => resolve((exited = true))));
  const server = {
    kind: output === 'null' ? 'direct' : 'pipe',
    port,
    pid: child.pid,
    drained,
    async stop() {
      if (!exited) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // gone
        }
        const done = await Promise.race([exit, delay(8000).then(() => false)]);
        if (!done) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // gone
          }
          await exit;
        }
      }
      fs.rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
  try {
    await waitForWorkers(child.pid, workers, () => exited);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** Until the master has `workers` children that answer on the port (each worker's import done). */
export async function waitForWorkers(masterPid, workers, hasExited, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited()) throw new Error(`the server (pid ${masterPid}) exited while starting`);
    if (children(masterPid).filter(listens).length >= workers) return;
    if (Date.now() > deadline) throw new Error(`the server (pid ${masterPid}) did not start ${workers} workers within ${timeoutMs / 1000} s`);
    await delay(100);
  }
}

export function children(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

/** A worker is up when it has opened its event loop's epoll (Uvicorn's serve loop). Cheap and race-free enough. */
function listens(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[eventpoll]';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

// ---- statistics ---------------------------------------------------------------------------------------------------

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, median: median(sorted), min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
}

export function round(value, digits = 1) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MB = 1024 * 1024;

// ---- processes -----------------------------------------------------------------------------------------------------

/** A process and all its descendants, from /proc. */
export function processTree(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) pids.push(...children(pids[i]));
  return pids;
}

/** CPU seconds (user + system) that a process tree has used so far (of the processes alive now). */
export function treeCpuSeconds(core, pid) {
  let total = 0;
  for (const member of processTree(pid)) total += core.readProcStat(member)?.cpuSeconds ?? 0;
  return total;
}

/**
 * The whole machine's CPU time so far (/proc/stat, all cores): `busy` (user, nice, system, irq, softirq) and `steal`
 * (time the hypervisor gave this machine's cores to others), in seconds.
 */
export function machineCpuSeconds() {
  const fields = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return { busy: (user + nice + system + irq + softirq) / 100, steal: (steal ?? 0) / 100 };
}

/** Runs a Node script in a child process; resolves with its stdout's last JSON line. */
export function runNodeJson(script, args, { env, timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(last));
      } catch (error) {
        reject(new Error(`${path.relative(repoRoot, script)} failed (${error.message}): ${stderr.trim().slice(-1500) || last}`));
      }
    });
  });
}
