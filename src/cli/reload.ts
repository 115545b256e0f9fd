/** The CLI's reloads: its watcher (--reload, or the task's "reload"), and the reload events as JSON or for people. */
import { ChangeBatcher } from '../core/reload/changeBatcher';
import { FileWatcher } from '../core/reload/fileWatcher';
import type { Supervisor } from '../core/supervisor';

type Emit = (event: Record<string, unknown>) => void;

/** Reports reloads: JSON events `reload-started`, `reloaded`, `reload-failed`; for people, the master's marker lines say it. */
export function reportReloads(supervisor: Supervisor, json: boolean, emit: Emit): void {
  if (!json) return;
  supervisor.onReload.on((event) => {
    if (event.type === 'started') emit({ event: 'reload-started', files: event.files, method: event.method, generation: event.generation });
    if (event.type === 'reloaded') emit({ event: 'reloaded', generation: event.generation, seconds: event.seconds, method: event.method });
    if (event.type === 'failed') {
      const { file, line, message } = event.failure;
      emit({ event: 'reload-failed', file, line, message, serving: event.serving, method: event.method, seconds: event.seconds });
    }
  });
}

/** While the server runs with reload on save, changed files under its cwd reload it (debounced). Returns the stop. */
export async function watchForReload(supervisor: Supervisor): Promise<() => Promise<void>> {
  const { cwd, reload } = supervisor.currentDefinition;
  const batcher = new ChangeBatcher({ root: cwd, include: reload.include, exclude: reload.exclude }, (files) => {
    if (supervisor.model().reload.onSave) supervisor.reload(files).catch(() => undefined); // a failure is an event already
  });
  const watcher = await FileWatcher.start({ root: cwd, include: reload.include, exclude: reload.exclude }, (file) => batcher.changed(file));
  return async () => {
    batcher.dispose();
    await watcher.close();
  };
}
