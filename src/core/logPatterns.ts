/** What the servers print about their workers, as the agent-less fallback, for exit reasons and Granian's positions. */

export interface WorkerLogFact {
  /** `spawned`: the master announces a worker it started (it is not the line's writer, unlike `booting`). */
  kind: 'booting' | 'spawned' | 'started' | 'timeout' | 'signalled' | 'exited' | 'died';
  pid: number;
  signal?: string;
  code?: number;
}

const FACTS: Array<[RegExp, (m: RegExpExecArray) => WorkerLogFact]> = [
  [/Booting worker with pid: (\d+)/, (m) => ({ kind: 'booting', pid: Number(m[1]) })],
  [/Started server process \[(\d+)\]/, (m) => ({ kind: 'started', pid: Number(m[1]) })],
  [/Spawning worker-\d+ with PID: (\d+)/, (m) => ({ kind: 'spawned', pid: Number(m[1]) })],
  // Hypercorn's worker, once it serves: `[date] [PID] [INFO] Running on http://…`
  [/^\[[^\]]+\] \[(\d+)\] \[INFO\] Running on /, (m) => ({ kind: 'started', pid: Number(m[1]) })],
  [/WORKER TIMEOUT \(pid:(\d+)\)/, (m) => ({ kind: 'timeout', pid: Number(m[1]) })],
  [/Worker \(pid:(\d+)\) was sent (SIG[A-Z0-9]+|signal \d+)/, (m) => ({ kind: 'signalled', pid: Number(m[1]), signal: m[2] })],
  [/Worker \(pid:(\d+)\) exited with code (-?\d+)/, (m) => ({ kind: 'exited', pid: Number(m[1]), code: Number(m[2]) })],
  [/Child process \[(\d+)\] died/, (m) => ({ kind: 'died', pid: Number(m[1]) })],
];

export function parseWorkerLogFact(line: string): WorkerLogFact | undefined {
  for (const [pattern, build] of FACTS) {
    const match = pattern.exec(line);
    if (match) return build(match);
  }
  return undefined;
}

/** The pid a log line names as its writer: Gunicorn's `[date] [PID] [LEVEL]` prefix, or a worker fact. */
export function pidOfLogLine(line: string): number | undefined {
  const gunicorn = /^\[[^\]]+\] \[(\d+)\] \[[A-Z]+\]/.exec(line);
  if (gunicorn) return Number(gunicorn[1]);
  const fact = parseWorkerLogFact(line);
  return fact && (fact.kind === 'booting' || fact.kind === 'started') ? fact.pid : undefined;
}

/** What Granian's master logs about the worker in a position (worker-1..N). */
export interface PositionFact {
  kind: 'spawned' | 'respawning' | 'overMemory' | 'lifetimeExpired';
  position: number;
  /** `spawned`: the pid now in the position. */
  pid?: number;
}

const POSITION_FACTS: Array<[RegExp, PositionFact['kind']]> = [
  [/Spawning worker-(\d+) with PID: (\d+)/, 'spawned'],
  [/Respawning worker-(\d+)$/, 'respawning'],
  [/worker-(\d+) RSS over threshold/, 'overMemory'],
  [/worker-(\d+) lifetime expired/, 'lifetimeExpired'],
];

export function parsePositionFact(line: string): PositionFact | undefined {
  for (const [pattern, kind] of POSITION_FACTS) {
    const match = pattern.exec(line);
    if (match) return { kind, position: Number(match[1]), ...(match[2] === undefined ? {} : { pid: Number(match[2]) }) };
  }
  return undefined;
}

/** A file of the app's own code: not a library's, the standard library's, the agent's, nor `<frozen ...>` or `<string>`. */
export function isAppCode(file: string): boolean {
  return !file.startsWith('<') && !/[\\/](site-packages|dist-packages|lib[\\/]python\d[^\\/]*|server_workers_agent)[\\/]/.test(file);
}

/** The Python source location of the innermost frame of the app's code in a traceback: `File "/x/main.py", line 3`. */
export function tracebackLocation(lines: readonly string[]): { file: string; line: number } | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^\s*File "([^"]+)", line (\d+)/.exec(lines[i]);
    if (match && isAppCode(match[1])) {
      return { file: match[1], line: Number(match[2]) };
    }
  }
  return undefined;
}
