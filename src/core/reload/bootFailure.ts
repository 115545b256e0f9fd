/**
 * Why a new generation did not boot, from a failed worker's output or an import check's report: the traceback's
 * innermost frame of the app's own code (never the agent's, a library's or the standard library's) and its error; for
 * a process that exited without one, its exit and its last line; for one that hung, where its stack was waiting.
 */
import * as path from 'node:path';
import { isAppCode, tracebackLocation } from '../logPatterns';

export interface BootFailure {
  /** Absolute path of the innermost frame of the app's code in the traceback, when there is one. */
  file?: string;
  line?: number;
  /** The exception line ("SyntaxError: invalid syntax"), else the last line the worker wrote. */
  message: string;
  /** The traceback, or the worker's last lines. */
  details: string;
}

const EXCEPTION_LINE = /^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(Error|Exception|Exit|Interrupt|Warning|Quit)\b.*$/;
const AGENT_FILE = /[\\/]server_workers_agent[\\/]/;
const MISSING_MODULE = /^ModuleNotFoundError: No module named '([\w.]+)'/;
/** A frame of faulthandler's dump (most recent call first): `  File "/app/version.py", line 3 in <module>`. */
const DUMPED_FRAME = /^\s*File "([^"]+)", line (\d+) in /;

/** The last traceback's first line (a logger may have put its prefix before it). */
function tracebackStart(lines: readonly string[]): number {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trimEnd().endsWith('Traceback (most recent call last):')) return i;
  return -1;
}

/** `app`: the server's module:attribute, to say when the app's own module is the one that is gone. */
export function bootFailureFrom(lines: readonly string[], cwd: string, app?: string): BootFailure {
  const text = lines.map((l) => l.replace(/\s+$/, ''));
  const start = tracebackStart(text);
  const traceback = start >= 0 ? text.slice(start) : text.filter((l) => l.trim() !== '').slice(-8);
  const location = tracebackLocation(traceback);
  const afterTraceback = start >= 0 ? traceback : text;
  const exception = [...afterTraceback].reverse().find((l) => EXCEPTION_LINE.test(l.trim()));
  const lastLine = [...text].reverse().find((l) => l.trim() !== '');
  const failure: BootFailure = {
    file: location ? path.resolve(cwd, location.file) : undefined,
    line: location?.line,
    message: (exception ?? lastLine ?? 'the new workers exited before they were ready').trim(),
    details: withoutAgentFrames(traceback).join('\n'),
  };
  const missing = MISSING_MODULE.exec(failure.message)?.[1];
  const appModule = app?.split(':', 1)[0];
  if (missing && appModule && (appModule === missing || appModule.startsWith(`${missing}.`))) {
    failure.message += ` (the app's module ${appModule} is not in ${cwd}: was it renamed or deleted? "app" names ${app})`;
  }
  return failure;
}

/** A traceback without the frames of the agent's wrappers (each frame's line, and its source lines after it). */
function withoutAgentFrames(lines: readonly string[]): string[] {
  const kept: string[] = [];
  let skipping = false;
  for (const line of lines) {
    const frame = /^\s*File "([^"]+)", line \d+/.exec(line);
    if (frame) skipping = AGENT_FILE.test(frame[1]);
    else if (!/^\s/.test(line)) skipping = false;
    if (!skipping) kept.push(line);
  }
  return kept;
}

/** Has a failed worker's output said enough yet (a traceback with its exception line)? */
export function bootFailureComplete(lines: readonly string[]): boolean {
  const start = tracebackStart(lines);
  return start >= 0 && lines.slice(start).some((l) => EXCEPTION_LINE.test(l.trim()));
}

/** Where a hung process waits: the innermost frame of the app's code in a stack faulthandler dumped (most recent call first). */
export function hangLocation(lines: readonly string[], cwd: string): { file: string; line: number } | undefined {
  for (const line of lines) {
    const frame = DUMPED_FRAME.exec(line);
    if (frame && isAppCode(frame[1])) return { file: path.resolve(cwd, frame[1]), line: Number(frame[2]) };
  }
  return undefined;
}

/** A process that ended before it said its import (or boot) completed: how it ended, and the last thing it wrote. */
export function exitFailure(what: string, exit: string, lines: readonly string[], cwd: string, app?: string): BootFailure {
  if (bootFailureComplete(lines)) return bootFailureFrom(lines, cwd, app);
  const last = [...lines].reverse().find((l) => l.trim() !== '')?.trim();
  return { message: `${what} ${exit} before it finished${last ? `: ${last}` : ''}`, details: lines.filter((l) => l.trim() !== '').slice(-8).join('\n') };
}

/** What did not finish within the time allowed (`ended`: what became of it), located by the stack it dumped. */
export function hangFailure(what: string, seconds: number, lines: readonly string[], cwd: string, ended = 'it was stopped'): BootFailure {
  const location = hangLocation(lines, cwd);
  const where = location ? ` (waiting at ${path.basename(location.file)}:${location.line})` : '';
  return { ...location, message: `${what} did not finish within ${seconds} s${where}; ${ended}`, details: withoutAgentFrames(lines).filter((l) => l.trim() !== '').slice(-30).join('\n') };
}
