/** Messages about servers that the user did not ask for: a master that died, a server reachable from the network. */
import * as vscode from 'vscode';
import type { ResolvedDefinition } from '../core/definition';
import type { Supervisor } from '../core/supervisor';
import type { WorkerChannels } from './outputChannels';
import type { PythonInterpreters } from './python';
import { onCore, type ServerRegistry } from './serverRegistry';

/** Tells the user when a server's master dies unexpectedly, and whether the restart policy brings it back. */
export function notifyMasterDeaths(supervisor: Supervisor, channels: WorkerChannels): vscode.Disposable {
  return onCore(supervisor.onExit, (exit) => {
    if (exit.expected) return;
    const name = supervisor.name;
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const text = exit.restartInMs !== undefined
      ? vscode.l10n.t('The master of {0} {1}. Restarting it in {2} s (attempt {3} of {4}).', name, how, exit.restartInMs / 1000, exit.restartAttempt ?? 1, supervisor.currentDefinition.restartMax)
      : vscode.l10n.t('The master of {0} {1}. It is not restarted (restart policy "{2}").', name, how, supervisor.currentDefinition.restart);
    const showLogs = vscode.l10n.t('Show Logs');
    void vscode.window.showWarningMessage(text, showLogs).then((choice) => {
      if (choice === showLogs) channels.show(name, 0);
    });
  });
}

const WARNED_KEY = 'serverWorkers.warnedAllInterfaces';

/** Once per server name: binding 0.0.0.0 or :: makes the server reachable from other machines. */
export async function warnIfExposed(memento: vscode.Memento, def: ResolvedDefinition): Promise<void> {
  const { bindsAllInterfaces } = await import('../core/definition'); // loaded already: the definition was resolved
  if (!bindsAllInterfaces(def.host)) return;
  const warned = memento.get<string[]>(WARNED_KEY, []);
  if (warned.includes(def.name)) return;
  void memento.update(WARNED_KEY, [...warned, def.name]);
  void vscode.window.showWarningMessage(
    vscode.l10n.t('{0} listens on all interfaces ({1}:{2}): other machines on your network can reach it. Bind 127.0.0.1 unless you mean to expose it.', def.name, def.host, def.port),
  );
}

/**
 * The interpreter selected in the Python extensions changed while servers of that folder run: they keep theirs until
 * started again (a task's "python" and serverWorkers.python still come first).
 */
export function notifyInterpreterChanges(interpreters: PythonInterpreters, registry: ServerRegistry): vscode.Disposable {
  return interpreters.onDidChange((uri) => {
    const folder = uri ? vscode.workspace.getWorkspaceFolder(uri) : undefined;
    const running = registry.all().filter((s) => (!folder || s.folder === folder) && s.supervisor.serverState === 'running');
    if (running.length === 0) return;
    void interpreters.resolve(folder ?? running[0].folder, undefined).then((python) => {
      void vscode.window.showInformationMessage(vscode.l10n.t(
        'The Python interpreter selected for {0} is now {1}. Running servers ({2}) keep theirs until they are started again; a task\'s "python" and serverWorkers.python still come first.',
        (folder ?? running[0].folder)?.name ?? vscode.l10n.t('the workspace'), python, running.map((s) => s.supervisor.name).join(', '),
      ));
    });
  });
}
