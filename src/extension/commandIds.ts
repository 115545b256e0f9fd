/** What the commands of the palette and the tree are (commands.ts registers them, commandHandlers.ts carries them out). */
import type { WorkerChannels } from './outputChannels';
import type { ServerRegistry } from './serverRegistry';
import type { WorkersNode } from './workersTree';

export interface CommandContext {
  registry: ServerRegistry;
  channels: WorkerChannels;
}

/** Every command commandHandlers.ts carries out (its map must have each, and only these). */
export const COMMAND_IDS = [
  'serverWorkers.start', 'serverWorkers.createTask', 'serverWorkers.stop', 'serverWorkers.restart', 'serverWorkers.reload',
  'serverWorkers.enableReloadOnSave', 'serverWorkers.disableReloadOnSave', 'serverWorkers.scale', 'serverWorkers.scaleUp',
  'serverWorkers.scaleDown', 'serverWorkers.showLogs', 'serverWorkers.saveWorkerCount', 'serverWorkers.runAutoStart',
  'serverWorkers.killWorker', 'serverWorkers.copyPid', 'serverWorkers.showStack', 'serverWorkers.openInBrowser',
] as const;

export type CommandId = (typeof COMMAND_IDS)[number];

/** What a command acts on: a row of the Workers view, a server's id or name, or (undefined) the one running or a pick. */
export type Target = WorkersNode | string | undefined;
