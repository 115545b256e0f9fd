/** What Gunicorn and Uvicorn print about their workers, as the agent-less fallback and for exit reasons. */

export interface WorkerLogFact {
  kind: 'booting' | 'started' | 'timeout' | 'signalled' | 'exited' | 'died';
  pid: number;
  signal?: string;
  code?: number;
}

const FACTS: Array<[RegExp, (m: RegExpExecArray) => WorkerLogFact]> = [
  [/Booting worker with pid: (\d+)/, (m) => ({ kind: 'booting', pid: Number(m[1]) })],
  [/Started server process \[(\d+)\]/, (m) => ({ kind: 'started', pid: Number(m[1]) })],
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

/** The Python source location of the innermost frame of a traceback: `File "/x/main.py", line 3`. */
export function tracebackLocation(lines: readonly string[]): { file: string; line: number } | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^\s*File "([^"]+)", line (\d+)/.exec(lines[i]);
    if (match && !match[1].startsWith('<') && !/[\\/](site-packages|lib[\\/]python\d)/.test(match[1])) {
      return { file: match[1], line: Number(match[2]) };
    }
  }
  return undefined;
}
