/**
 * A warm master (the agent's warm_master.py and warm_fork.py): a ready worker says which library modules it has loaded
 * (from site-packages and the standard library only), and the master imports them, so that the workers it forks next
 * (Gunicorn's; Uvicorn's, which it then forks instead of spawning) start with them and a reload's new workers import
 * only the app. Failing quietly is fine: the reload is slower, not wrong.
 */
import type { ServerRun } from '../serverRun';

const REQUEST_TIMEOUT_MS = 10000;

export async function warmMaster(run: ServerRun): Promise<void> {
  const worker = run.table.snapshot().workers.find((w) => w.state === 'ready');
  const reply = worker && (await run.request(worker.slot, { t: 'modules' }, REQUEST_TIMEOUT_MS));
  if (reply?.t !== 'modules' || !Array.isArray(reply.modules)) return;
  await run.requestMaster({ t: 'preimport', modules: reply.modules }, REQUEST_TIMEOUT_MS);
}
