/**
 * The app's import check in a process of its own: the agent's import_probe.py, run by the server's interpreter in the
 * server's folder and environment, in a process group of its own. The probe forks the importer, judges it (only an
 * import that completed passes), ends everything the import started and prints one JSON line (its report). Aborted
 * (the server stops), it gets SIGTERM and ends all it started; one that has not reported in time, or that outlives
 * the abort, is SIGKILLed with its process group and every descendant /proc shows. Nothing it started outlives it.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { ResolvedDefinition } from '../definition';
import { ServerError } from '../errors';
import { agentDirectory } from '../launchContext';
import { identityOf, processGroupMembers, type ProcessIdentity } from '../process/procfs';
import { killProcessTree } from '../process/processTree';

/** Beyond the check's own time: the probe's interpreter start, the stack dump, ending what the import started. */
const REPORT_GRACE_MS = 10000;
/** After SIGTERM (an abort), the probe's time to end what it started before it is SIGKILLed. */
const TERM_GRACE_MS = 2000;
/** After the probe exited, the longest wait for its report's last bytes (its pipe closes with it). */
const CLOSE_AFTER_EXIT_MS = 2000;
const MAX_STDERR_CHARS = 16 * 1024;

export type ProbeReport = Record<string, unknown>;

export function probeScript(): string {
  return path.join(agentDirectory(), 'server_workers_agent', 'import_probe.py');
}

/** Runs the probe; its report, or a ServerError: 'stopped' when aborted, 'spawn' when it could not run. */
export function runImportProbe(definition: ResolvedDefinition, seconds: number, signal: AbortSignal): Promise<ProbeReport> {
  if (signal.aborted) return Promise.reject(stopped(definition));
  return new Promise((resolve, reject) => {
    const child = spawn(definition.python, [probeScript(), definition.app, String(seconds), String(process.pid)], {
      cwd: definition.cwd,
      env: { ...process.env, ...definition.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let identity: ProcessIdentity | undefined;
    let stdout = '';
    let stderr = '';
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    child.once('spawn', () => (identity = identityOf(child.pid!)));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += chunk.toString('utf8');
    });
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      killRemainder(child.pid, identity);
      outcome();
    };
    const onAbort = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      timers.push(setTimeout(() => finish(() => reject(stopped(definition))), TERM_GRACE_MS));
    };
    signal.addEventListener('abort', onAbort);
    timers.push(setTimeout(() => finish(() => resolve({ ok: false, timedOut: true })), seconds * 1000 + REPORT_GRACE_MS));
    child.on('error', (error) => finish(() => reject(new ServerError(`Could not run ${definition.python} to check that ${definition.app} imports: ${error.message}`, 'spawn'))));
    const done = () => finish(() => {
      if (signal.aborted) {
        reject(stopped(definition));
        return;
      }
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      try {
        resolve(JSON.parse(line ?? '') as ProbeReport);
      } catch {
        const why = child.signalCode ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
        resolve({ ok: false, probeFailed: `the import check (${definition.python} ${probeScript()}) ${why}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}` });
      }
    });
    child.on('close', done);
    child.on('exit', () => {
      if (!settled) timers.push(setTimeout(done, CLOSE_AFTER_EXIT_MS));
    });
  });
}

/** SIGKILL to whatever of the probe is left: its process group, and its descendants while it still runs. */
function killRemainder(pgid: number | undefined, identity: ProcessIdentity | undefined): void {
  if (pgid === undefined) return;
  if (identity) killProcessTree(identity);
  if (processGroupMembers(pgid).length > 0) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

function stopped(definition: ResolvedDefinition): ServerError {
  return new ServerError(`The server "${definition.name}" was stopped.`, 'stopped');
}
