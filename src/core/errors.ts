/** Errors of a server's operations, typed so that a caller decides by their fields, never by their wording. */

export type ServerErrorReason =
  | 'platform' | 'environment' | 'interpreter' | 'port' | 'cwd' | 'certificate' | 'prelaunch' | 'boot' | 'spawn' | 'state' | 'timeout'
  | 'stopped';

export interface ServerErrorDetails {
  /** reason 'environment' and 'interpreter': the interpreter concerned. */
  python?: string;
  /** reason 'environment': the package to install in `python` (pip's name for it). */
  missingPackage?: string;
  /** reason 'port': the process that holds the port, when /proc shows it. */
  portHolder?: { pid: number; command: string };
  /** reason 'boot': a Python source location of the failure (the innermost app frame of a traceback). */
  location?: { file: string; line: number };
}

export class ServerError extends Error {
  constructor(message: string, readonly reason: ServerErrorReason, readonly details: ServerErrorDetails = {}) {
    super(message);
    this.name = 'ServerError';
  }
}

/** What a server needs from the interpreter and does not find there. */
export interface EnvironmentProblem {
  message: string;
  missingPackage?: string;
}
