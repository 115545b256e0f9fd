/**
 * Uvicorn's own reload (0.30+, SIGHUP): one worker at a time, the new one started and found ready (Uvicorn pings it)
 * before the old one is stopped. When a new worker is not ready in time (it died at import, its lifespan startup
 * failed, it is slow), Uvicorn kills it, keeps the old workers and aborts the restart: the workers replaced until then
 * stay replaced.
 */
import { type MethodContext, type ReloadOutcome, reloadTimeoutMs } from './reloadTypes';

export async function rollingRestart(context: MethodContext): Promise<ReloadOutcome> {
  const { run, definition, waiters } = context;
  const table = run.table;
  table.beginReload();
  context.changed();
  let failed: boolean;
  try {
    run.master!.signal('SIGHUP');
    const workers = table.liveCount();
    await waiters.waitFor(() => {
      const { outgoing, newBooting, newFailed } = table.reloadProgress();
      return newBooting === 0 && (outgoing === 0 || newFailed > 0);
    }, reloadTimeoutMs(definition) * Math.max(1, workers), 'Uvicorn to replace its workers');
    failed = table.reloadProgress().newFailed > 0;
  } finally {
    table.endReload();
    context.changed();
  }
  if (failed) return { ok: false, failure: await context.failureOfNewWorkers() };
  await waiters.waitFor(() => table.reloadSettled(), reloadTimeoutMs(definition), 'the old workers to finish their requests');
  return { ok: true };
}
