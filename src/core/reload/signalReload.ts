/**
 * A server's own reload on SIGHUP, read through the worker table until every slot holds a ready worker of the new
 * generation:
 * - Uvicorn 0.30+ (`rolling`): each new worker is started and found ready (Uvicorn pings it) before the old one is
 *   stopped. When a new worker is not ready in time (it died at import, its lifespan startup failed, it is slow),
 *   Uvicorn kills it, keeps the old workers and aborts the restart: the workers replaced until then stay replaced.
 * - Granian (`rolling`): every position's successor is started at once (the agent's granian_reload.py), and each old
 *   worker is stopped once its successor is ready (the reloader tells the master), or once the successor has exited,
 *   or after 60 s; Granian's own reload went one position per respawn interval, ready or not. The reloader imports
 *   the app first.
 * - Hypercorn (`signal`): every worker stops, then the master starts new ones; the listening socket stays open, so
 *   requests wait in its queue (the reloader imports the app first).
 */
import { type MethodContext, type ReloadOutcome, reloadTimeoutMs } from './reloadTypes';

const SERVER_NAMES = { gunicorn: 'Gunicorn', uvicorn: 'Uvicorn', granian: 'Granian', hypercorn: 'Hypercorn' } as const;

export async function signalReload(context: MethodContext): Promise<ReloadOutcome> {
  const { run, definition, waiters } = context;
  const table = run.table;
  const workers = table.liveCount();
  table.beginReload(Date.now());
  context.changed();
  let failed: boolean;
  try {
    run.master!.signal('SIGHUP');
    await waiters.waitFor(() => {
      const { outgoing, newReady, newBooting, newFailed } = table.reloadProgress();
      return newBooting === 0 && ((outgoing === 0 && newReady >= workers) || newFailed > 0);
    }, reloadTimeoutMs(definition) * Math.max(1, workers), `${SERVER_NAMES[definition.server]} to replace its workers`);
    failed = table.reloadProgress().newFailed > 0;
  } finally {
    table.endReload();
    context.changed();
  }
  if (failed) return { ok: false, failure: await context.failureOfNewWorkers() };
  await waiters.waitFor(() => table.reloadSettled(), reloadTimeoutMs(definition), 'the old workers to finish their requests');
  return { ok: true };
}
