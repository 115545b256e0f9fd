/** A worker whose debug session ended is recycled: debugpy's tracing leaves it slower, so SIGTERM, and the server replaces it. */
import * as vscode from 'vscode';
import type { RunningServer } from '../serverRegistry';

export class WorkerRecycler {
  /** Workers being recycled: killWorker acts on the slot, so a second call would kill the replacement. */
  private readonly recycling = new Set<number>();

  async recycle(server: RunningServer, slot: number, pid: number): Promise<void> {
    const { supervisor } = server;
    const model = supervisor.model();
    const worker = model.workers.find((w) => w.slot === slot);
    if (supervisor.serverState !== 'running' || worker?.pid !== pid || worker.state === 'exited' || !model.capabilities?.respawnsWorkers) return;
    if (this.recycling.has(pid)) return;
    this.recycling.add(pid);
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Recycling worker {0} of {1} after debugging', slot, supervisor.name) },
        () => supervisor.killWorker(slot, 'SIGTERM'),
      );
    } catch {
      // it exited meanwhile, or the server is stopping: nothing to recycle
    } finally {
      this.recycling.delete(pid);
    }
  }
}
