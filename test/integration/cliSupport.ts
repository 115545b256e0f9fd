/** Running `server-workers` (dist/cli.js) in tests: its JSON events, its lines, waiting for an event. */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after } from 'node:test';
import { repoRoot } from '../support/paths';
import { appsDir } from './support';

export const cli = path.join(repoRoot, 'dist', 'cli.js');

export interface Run {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  lines: string[];
  stderr: string[];
  /** The first event after the last one `next` returned that matches. */
  next(predicate: (event: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The first event so far (or to come) that matches, wherever `next` stands: for events whose order is not fixed. */
  any(predicate: (event: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

/** Every CLI a test file started: a test that fails before its CLI exits must not keep the file's process alive. */
const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

export function run(args: string[], cwd = appsDir, env: NodeJS.ProcessEnv = process.env): Run {
  const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  const events: Array<Record<string, unknown>> = [];
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
    for (const waiter of waiters.splice(0)) waiter();
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let cursor = 0;
  const next: Run['next'] = (predicate, what, timeoutMs = 30000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr: ${stderr.join('\n')}; last lines: ${lines.slice(-5).join('\n')}`)), timeoutMs);
    const look = () => {
      while (cursor < events.length) {
        const event = events[cursor++];
        if (predicate(event)) {
          clearTimeout(timer);
          resolve(event);
          return;
        }
      }
      waiters.push(look);
    };
    look();
  });
  const any: Run['any'] = (predicate, what, timeoutMs = 30000) => {
    const seen = events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      let from = events.length;
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr: ${stderr.join('\n')}`)), timeoutMs);
      const look = () => {
        const found = events.slice(from).find(predicate);
        from = events.length;
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else {
          waiters.push(look);
        }
      };
      waiters.push(look);
    });
  };
  return { child, events, lines, stderr, next, any, exit };
}

export function pidsIn(events: Array<Record<string, unknown>>): number[] {
  const pids = new Set<number>();
  for (const event of events) {
    if (typeof event.masterPid === 'number') pids.add(event.masterPid);
    if (typeof event.pid === 'number') pids.add(event.pid);
  }
  return [...pids];
}
