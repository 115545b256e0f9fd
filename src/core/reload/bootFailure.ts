/** Why a new generation did not boot, from a failed worker's output: the traceback's innermost app frame and its error. */
import * as path from 'node:path';
import { tracebackLocation } from '../logPatterns';

export interface BootFailure {
  /** Absolute path of the innermost frame of the app's code in the traceback, when there is one. */
  file?: string;
  line?: number;
  /** The exception line ("SyntaxError: invalid syntax"), else the last line the worker wrote. */
  message: string;
  /** The traceback, or the worker's last lines. */
  details: string;
}

const EXCEPTION_LINE = /^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(Error|Exception|Exit|Interrupt|Warning)\b.*$/;

/** The last traceback's first line (a logger may have put its prefix before it). */
function tracebackStart(lines: readonly string[]): number {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trimEnd().endsWith('Traceback (most recent call last):')) return i;
  return -1;
}

export function bootFailureFrom(lines: readonly string[], cwd: string): BootFailure {
  const text = lines.map((l) => l.replace(/\s+$/, ''));
  const start = tracebackStart(text);
  const traceback = start >= 0 ? text.slice(start) : text.filter((l) => l.trim() !== '').slice(-8);
  const location = tracebackLocation(traceback);
  const afterTraceback = start >= 0 ? traceback : text;
  const exception = [...afterTraceback].reverse().find((l) => EXCEPTION_LINE.test(l.trim()));
  const lastLine = [...text].reverse().find((l) => l.trim() !== '');
  return {
    file: location ? path.resolve(cwd, location.file) : undefined,
    line: location?.line,
    message: (exception ?? lastLine ?? 'the new workers exited before they were ready').trim(),
    details: traceback.join('\n'),
  };
}

/** Has a failed worker's output said enough yet (a traceback with its exception line)? */
export function bootFailureComplete(lines: readonly string[]): boolean {
  const start = tracebackStart(lines);
  return start >= 0 && lines.slice(start).some((l) => EXCEPTION_LINE.test(l.trim()));
}
