/**
 * Gunicorn's reload without a moment of downtime (docs/architecture.md, "Reload"): a new generation boots beside the
 * old one, and the old one retires only once the new one is ready.
 *
 * Gunicorn's own HUP spawns the new workers and at once stops the old ones, before the new ones have imported
 * anything; with broken code it halts the server. Instead: `worker add N` on the control socket; each new worker is
 * ready (the agent says so) or dies at boot (the agent's boot guard keeps Gunicorn from halting and shrinks its count
 * back); then `worker remove K`, which stops the K oldest workers: the old generation, which finishes its requests.
 * A new generation that did not boot at all leaves the old one serving, at its count. New workers still booting when
 * the reload timeout is up are ended (the boot guard counts them as failed boots, and Gunicorn's count goes back).
 */
import { ServerError } from '../errors';
import { changeGunicornWorkers, gunicornWorkerTarget } from './gunicornControl';
import { type MethodContext, type ReloadOutcome, retireTimeoutMs } from './reloadTypes';

export async function swapGenerations(context: MethodContext, controlSocket: string): Promise<ReloadOutcome> {
  const { run, definition, waiters } = context;
  const table = run.table;
  const wanted = definition.workers;
  // Gunicorn's own count (its boot guard may have lowered it), which `worker remove` brings it back to.
  const oldWorkers = await gunicornWorkerTarget(controlSocket) ?? table.liveCount();
  table.beginReload(Date.now());
  context.changed();
  try {
    await changeGunicornWorkers(controlSocket, 'add', wanted, oldWorkers);
    const hung = await waiters.waitFor(() => {
      const { newReady, newBooting, newFailed } = table.reloadProgress();
      return newBooting === 0 && newReady + newFailed >= wanted;
    }, context.bootLimitSeconds * 1000, `the ${wanted} new workers to boot`).then(() => undefined, async (error: unknown) => {
      if (!(error instanceof ServerError && error.reason === 'timeout')) throw error;
      return context.endHungWorkers();
    });
    const failure = async () => hung ?? await context.failureOfNewWorkers();
    const { newReady, oldAlive } = table.reloadProgress();
    if (newReady === 0) return { ok: false, failure: await failure() };
    // All ready: the old generation goes. Some ready: as many old workers go (the oldest), the count stays. Gunicorn
    // stops its oldest: the old generation, and as many new workers as old ones died before or during the swap (it
    // replaced those among the new ones): their slots close, as do those of an old generation larger than wanted.
    const slotsClosing = Math.max(0, oldWorkers - wanted) + Math.max(0, oldWorkers - oldAlive);
    for (let extra = slotsClosing; newReady === wanted && extra > 0; extra--) table.expectRemoval();
    const beforeRemove = await gunicornWorkerTarget(controlSocket) ?? oldWorkers + wanted;
    await changeGunicornWorkers(controlSocket, 'remove', newReady === wanted ? oldWorkers : newReady, beforeRemove);
    if (newReady < wanted) return { ok: false, failure: await failure() };
  } finally {
    table.endReload();
    context.changed();
  }
  await waiters.waitFor(() => table.reloadSettled(), retireTimeoutMs(definition), 'the old workers to finish their requests');
  return { ok: true };
}
