/**
 * Signals that change a running server's workers, each awaited until the worker table shows the change: TTIN / TTOU
 * to the master until a count of workers is ready (scaling), and the end of one worker that was sent a signal.
 */
import type { MasterProcess } from '../process/masterProcess';
import type { Waiters } from '../waiters';
import type { WorkerTable } from './workerTable';

/**
 * TTIN / TTOU one at a time (signals of one kind sent together may merge) until `count` workers are ready. Counted
 * in slots: a worker that died and waits for its replacement is one the server will have again.
 */
export async function scaleBySignals(master: MasterProcess, table: WorkerTable, count: number, waiters: Waiters, timeoutMs: number): Promise<void> {
  do {
    while (table.slotCount() !== count) {
      const before = table.slotCount();
      if (before < count) {
        master.signal('SIGTTIN');
        await waiters.waitFor(() => table.slotCount() > before, timeoutMs, 'a worker to start after SIGTTIN');
      } else {
        table.expectRemoval();
        master.signal('SIGTTOU');
        await waiters.waitFor(() => table.slotCount() < before, timeoutMs, 'a worker to stop after SIGTTOU');
      }
    }
    // A dead slot the server does not refill closes (ServerRun's stats tick): then signal again.
    await waiters.waitFor(() => table.readyCount(count) || table.slotCount() !== count, timeoutMs, `${count} workers to be ready`);
  } while (!table.readyCount(count));
}

/**
 * The worker `pid` in `slot` was sent a signal: settles when its replacement is ready (`respawns`: the server replaces
 * its workers), else when it is gone.
 */
export function awaitSignalledWorker(master: MasterProcess, table: WorkerTable, slot: number, pid: number, respawns: boolean, waiters: Waiters, timeoutMs: number): Promise<void> {
  if (respawns) {
    return waiters.waitFor(() => {
      const current = table.inSlot(slot);
      return current !== undefined && current.pid !== pid && current.state === 'ready';
    }, timeoutMs, `the replacement of worker ${slot}`);
  }
  // A server that stops when a worker dies (Hypercorn) may be gone before the exit is reported.
  return waiters.waitFor(() => !table.has(pid) || !master.running(), timeoutMs, `worker ${slot} to exit`);
}
