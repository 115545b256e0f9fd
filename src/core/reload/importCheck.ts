/**
 * Before a reload that must restart the whole server (it cannot run two generations side by side), or that would stop
 * the old workers whatever the new ones do (Hypercorn's and Granian's SIGHUP), the app's module is imported once
 * first, with the server's interpreter, folder and environment: when that fails, the server is not touched and the
 * previous code keeps serving. (What only the server's startup would show, such as a failing ASGI lifespan, still
 * fails the restart.)
 *
 * Only an import that completed passes: the importer says so itself once the import has returned (the agent's
 * import_probe.py). An exit, whatever its code (`os._exit(0)`), a `SystemExit`, a signal, or an import that has not
 * finished within the reload's time limit is a failure that says which; `breakpoint()` is skipped in the check (the
 * new workers stop at it). A warm master that forks its workers (Hypercorn's and Granian's, once the agent made them
 * warm) runs the check in a fork of itself, which has the libraries loaded already (the agent's import_check.py); a
 * master that cannot sends the check back here, and it runs in a process of its own (importProbeProcess.ts).
 */
import type { ResolvedDefinition } from '../definition';
import { ServerError } from '../errors';
import type { ServerRun } from '../serverRun';
import { bootFailureFrom, exitFailure, hangFailure } from './bootFailure';
import { type ProbeReport, runImportProbe } from './importProbeProcess';
import type { ReloadOutcome } from './reloadTypes';

/** Beyond the check's own time, how long the master's fork may take to report (it ends what the import started). */
const MASTER_REPLY_GRACE_MS = 15000;

export async function checkAppImports(definition: ResolvedDefinition, seconds: number, signal: AbortSignal, run?: ServerRun): Promise<ReloadOutcome> {
  const inMaster = run?.requestMaster({ t: 'import-check', app: definition.app, timeout: seconds }, seconds * 1000 + MASTER_REPLY_GRACE_MS);
  const reply = inMaster && (await untilAborted(inMaster.catch(() => undefined), signal, definition));
  const report = reply?.t === 'import-check' && reply.ran === true ? reply : await runImportProbe(definition, seconds, signal);
  return outcomeOf(report, definition, seconds);
}

/** What the probe's report means for the reload. */
export function outcomeOf(report: ProbeReport, definition: ResolvedDefinition, seconds: number): ReloadOutcome {
  const what = `importing ${definition.app}`;
  const output = typeof report.output === 'string' ? report.output.split('\n') : [];
  if (report.ok === true) {
    const skipped = Array.isArray(report.breakpoints) ? report.breakpoints.filter((b): b is string => typeof b === 'string') : [];
    return skipped.length > 0 ? { ok: true, skippedBreakpoints: skipped } : { ok: true };
  }
  if (typeof report.traceback === 'string' && report.traceback !== '') {
    return { ok: false, failure: bootFailureFrom(report.traceback.split('\n'), definition.cwd, definition.app) };
  }
  if (report.timedOut === true) return { ok: false, failure: hangFailure(what, seconds, output, definition.cwd) };
  if (typeof report.exit === 'string') return { ok: false, failure: exitFailure(what, report.exit, output, definition.cwd, definition.app) };
  const message = typeof report.probeFailed === 'string' ? report.probeFailed : `the import check of ${definition.app} gave no result`;
  return { ok: false, failure: { message, details: message } };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, definition: ResolvedDefinition): Promise<T> {
  const stopped = () => new ServerError(`The server "${definition.name}" was stopped.`, 'stopped');
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
