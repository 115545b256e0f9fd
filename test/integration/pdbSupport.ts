/** Driving pdb in a worker through `server-workers run --json` in tests: commands on stdin, events in order. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlive } from '../../src/core/process/procfs';
import { detectEnvironment } from '../../src/core/pythonEnvironment';
import { testPython } from '../support/paths';
import { pidsIn, type Run, run } from './cliSupport';
import { appsDir, freePort, get } from './support';

export type CliEvent = Record<string, unknown>;

/**
 * Python 3.13 and later stop at breakpoint() itself, the ones before on the line after it: the tests run on 3.9 to
 * 3.13 (SERVER_WORKERS_TEST_PYTHON).
 */
export async function pdbStopsOnTheCall(): Promise<boolean> {
  const [major, minor] = (await detectEnvironment(testPython)).pythonVersion.split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 13);
}

/** `server-workers run --json` with these flags, on a free port; resolves once every worker is ready, unless told not to wait. */
export async function startCli(flags: string[], workers: number, env: NodeJS.ProcessEnv = process.env, waitReady = true): Promise<{ r: Run; port: number; started?: CliEvent }> {
  const port = await freePort();
  const r = run(['run', ...flags, '--workers', String(workers), '--bind', `127.0.0.1:${port}`, '--python', testPython, '--graceful-timeout', '5', '--json'], appsDir, env);
  const started = waitReady ? await r.any((e) => e.event === 'started', 'started', 60000) : undefined;
  return { r, port, started };
}

/** Ends stdin (the CLI stops the server) and proves no process of the server is left. */
export async function stopCli(r: Run): Promise<void> {
  r.child.stdin!.end();
  assert.strictEqual(await r.exit, 0, `the CLI exits 0; stderr: ${r.stderr.join('\n')}`);
  const survivors = pidsIn(r.events).filter(isAlive);
  assert.deepStrictEqual(survivors, [], 'no process of the server survives');
}

/** The first event at index `from` or later that matches, with its index. */
export async function eventAfter(r: Run, from: number, predicate: (e: CliEvent) => boolean, what: string, timeoutMs = 30000): Promise<{ event: CliEvent; index: number }> {
  const deadline = Date.now() + timeoutMs;
  for (let i = from; ; ) {
    for (; i < r.events.length; i++) if (predicate(r.events[i])) return { event: r.events[i], index: i };
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${r.stderr.join('\n')}; last events: ${r.events.slice(-8).map((e) => JSON.stringify(e)).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function isPrompt(slot: number): (e: CliEvent) => boolean {
  return (e) => e.event === 'log' && e.stream === 'pdb' && e.slot === slot && e.prompt === true;
}

/** The next `pdb` event (a worker entered pdb) from `from` on, and the index of its first prompt. */
export async function enteredPdb(r: Run, from: number, what: string, timeoutMs = 30000): Promise<{ event: CliEvent; prompt: number }> {
  const { event, index } = await eventAfter(r, from, (e) => e.event === 'pdb', what, timeoutMs);
  const prompt = await eventAfter(r, index, isPrompt(event.slot as number), `the pdb prompt of worker ${String(event.slot)}`);
  return { event, prompt: prompt.index };
}

/** Sends a line to the pdb of `slot`; pdb's output lines until its next prompt. */
export async function pdbCommand(r: Run, slot: number, text: string): Promise<string[]> {
  const from = r.events.length;
  r.child.stdin!.write(`${JSON.stringify({ cmd: 'input', slot, text: `${text}\n` })}\n`);
  const result = await eventAfter(r, from, (e) => e.event === 'result' && e.cmd === 'input', `the result of input "${text}"`);
  assert.strictEqual(result.event.ok, true, String(result.event.error));
  const prompt = await eventAfter(r, from, isPrompt(slot), `the prompt after "${text}" in worker ${slot}`);
  return pdbLines(r, slot, from, prompt.index);
}

/** Sends a line that ends the session (`c`): resolves with the `pdb-end` event. */
export async function pdbLeave(r: Run, slot: number, text = 'c'): Promise<CliEvent> {
  const from = r.events.length;
  r.child.stdin!.write(`${JSON.stringify({ cmd: 'input', slot, text: `${text}\n` })}\n`);
  return (await eventAfter(r, from, (e) => e.event === 'pdb-end' && e.slot === slot, `worker ${slot} to leave pdb`)).event;
}

/** The pdb lines of `slot` between two event indexes (prompts left out). */
export function pdbLines(r: Run, slot: number, from: number, to = r.events.length): string[] {
  return r.events.slice(from, to).filter((e) => e.event === 'log' && e.stream === 'pdb' && e.slot === slot && !e.prompt).map((e) => String(e.line));
}

/** The line in a fixture app that holds `text` (1-based). */
export function lineOf(file: string, text: string): number {
  const index = fs.readFileSync(path.join(appsDir, file), 'utf8').split('\n').findIndex((line) => line.includes(text));
  assert.ok(index >= 0, `"${text}" is in ${file}`);
  return index + 1;
}

export interface Answer {
  status?: number;
  body?: Record<string, unknown>;
  error?: string;
}

/** GET that never rejects: the answer, or why there was none. */
export function request(port: number, pathname: string, timeoutMs = 60000): Promise<Answer> {
  return get(port, pathname, timeoutMs).then(
    ({ status, body }) => ({ status, body }),
    (error: Error) => ({ error: error.message }),
  );
}

/** Whether a promise has settled yet (without waiting for it). */
export async function settled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([promise, new Promise((resolve) => setImmediate(() => resolve(marker)))])) !== marker;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
