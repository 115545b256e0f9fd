/**
 * A server's own reload on SIGHUP, read through the worker table until every slot holds a ready worker of the new
 * generation:
 * - Uvicorn 0.30+ (`rolling`): each new worker is started and found ready (Uvicorn pings it) before the old one is
 *   stopped. When a new worker dies before it is ready (at import, in its lifespan startup), Uvicorn kills the others
 *   (the agent: with what they started), keeps the old workers and aborts the restart.
 * - Granian (`rolling`): every position's successor is started at once (the agent's granian_reload.py), and each old
 *   worker is stopped once its successor is ready (the reloader tells the master); a successor that dies first is
 *   reaped and the old worker keeps its position. Granian's own reload went one position per respawn interval, ready
 *   or not. The reloader imports the app first.
 * - Both: the agent waits for the new workers as long as they live; the reloader ends those not ready within the
 *   reload timeout (their stacks dumped first; not while one waits in pdb), which counts as their death.
 * - Hypercorn (`signal`): every worker stops, then the master starts new ones; the listening socket stays open, so
 *   requests wait in its queue (the reloader imports the app first).
 */
import { ServerError } from '../errors';
import { type MethodContext, type ReloadOutcome, retireTimeoutMs } from './reloadTypes';

const SERVER_NAMES = { gunicorn: 'Gunicorn', uvicorn: 'Uvicorn', granian: 'Granian', hypercorn: 'Hypercorn' } as const;

export async function signalReload(context: MethodContext): Promise<ReloadOutcome> {
  const { run, definition, waiters } = context;
  const table = run.table;
  const workers = table.liveCount();
  table.beginReload(Date.now());
  context.changed();
  let failed: boolean;
  let hung: Awaited<ReturnType<MethodContext['endHungWorkers']>> | undefined;
  try {
    run.master!.signal('SIGHUP');
    await waiters.waitFor(() => {
      const { outgoing, newReady, newBooting, newFailed } = table.reloadProgress();
      return newBooting === 0 && ((outgoing === 0 && newReady >= workers) || newFailed > 0);
    }, context.bootLimitSeconds * 1000, `${SERVER_NAMES[definition.server]} to replace its workers`).catch(async (error: unknown) => {
      if (!(error instanceof ServerError && error.reason === 'timeout')) throw error;
      // Hypercorn has stopped its old workers already: its new ones, hung or not, are all it has.
      hung = definition.server === 'hypercorn' ? { message: error.message, details: '' } : await context.endHungWorkers();
    });
    failed = hung !== undefined || table.reloadProgress().newFailed > 0;
  } finally {
    table.endReload();
    context.changed();
  }
  if (failed) return { ok: false, failure: hung ?? await context.failureOfNewWorkers() };
  await waiters.waitFor(() => table.reloadSettled(), retireTimeoutMs(definition), 'the old workers to finish their requests');
  return { ok: true };
}
