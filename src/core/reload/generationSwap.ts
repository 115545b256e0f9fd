/**
 * Gunicorn's reload without a moment of downtime (docs/architecture.md, "Reload"): a new generation boots beside the
 * old one, and the old one retires only once the new one is ready.
 *
 * Gunicorn's own HUP spawns the new workers and at once stops the old ones, before the new ones have imported
 * anything; with broken code it halts the server. Instead: `worker add N` on the control socket; each new worker is
 * ready (the agent says so) or dies at boot, whatever way (the agent's boot guard keeps Gunicorn from halting or
 * respawning it and shrinks its count back); then `worker remove`, down to the wanted count, which stops the oldest
 * workers: the old generation, which finishes its requests. A new generation that did not boot at all leaves the old
 * one serving, at its count. New workers still booting when the reload timeout is up are ended with what they started
 * (the boot guard counts them as failed boots, and Gunicorn's count goes back).
 */
import { ServerError } from '../errors';
import { isAlive } from '../process/procfs';
import type { WorkerTable } from '../workers/workerTable';
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
    const { newReady } = table.reloadProgress();
    if (newReady === 0) return { ok: false, failure: await failure() };
    // Back to the wanted count: Gunicorn stops its oldest workers, the old generation first (those that handed their
    // slot over retire; one that did not closes its slot), then, when it has more new workers than wanted, the oldest
    // of those (it replaced a worker that died just before or during the swap among them): their slots close too.
    // Some new workers ready and some not: as many old workers go, and the count stays.
    const beforeRemove = await gunicornWorkerTarget(controlSocket) ?? table.livePids().length;
    const remove = Math.max(0, beforeRemove - wanted);
    for (let closing = slotsClosedByStoppingOldest(table, remove); closing > 0; closing--) table.expectRemoval();
    if (remove > 0) await changeGunicornWorkers(controlSocket, 'remove', remove, beforeRemove);
    if (newReady < wanted) return { ok: false, failure: await failure() };
  } finally {
    table.endReload();
    context.changed();
  }
  await waiters.waitFor(() => table.reloadSettled(), retireTimeoutMs(definition), 'the old workers to finish their requests');
  return { ok: true };
}

/** Of the `count` oldest live workers (Gunicorn stops those first), how many hold a slot rather than retire. */
function slotsClosedByStoppingOldest(table: WorkerTable, count: number): number {
  const { workers, retiring } = table.snapshot();
  const live = [...workers.filter((w) => w.state !== 'exited'), ...retiring].filter((w) => isAlive(w.pid));
  const retiringPids = new Set(retiring.map((w) => w.pid));
  return live.sort((a, b) => a.startedAt - b.startedAt).slice(0, count).filter((w) => !retiringPids.has(w.pid)).length;
}
