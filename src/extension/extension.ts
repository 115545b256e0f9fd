/** Wires the extension together and owns disposal; each part lives in its own module. */
import * as vscode from 'vscode';
import type { ServerWorkersApi } from './api';
import { registerCommands } from './commands';
import { registerDashboard } from './dashboard';
import { registerDebugging } from './debug';
import { registerExport } from './export';

import { registerLanguageModelTools } from './lmTools';
import { WorkerChannels } from './outputChannels';
import { startAutoStartTasks } from './autoStart';
import { notifyInterpreterChanges, notifyMasterDeaths } from './notifications';
import { PdbTerminals } from './pdb';
import { PythonInterpreters } from './python';
import { ReloadProblems } from './reloadProblems';
import { ServerRegistry } from './serverRegistry';
import { ServerStatusItems } from './statusBar';
import { registerMetricsEndpoint } from './metrics';
import { registerPythonFrameLinks } from './showStack';
import { ServerTaskProvider, TASK_TYPE } from './taskProvider';
import { type WorkersNode, WorkersTreeProvider } from './workersTree';

let registry: ServerRegistry | undefined;

export function activate(context: vscode.ExtensionContext): ServerWorkersApi {
  const interpreters = new PythonInterpreters();
  registry = new ServerRegistry(interpreters, context.globalState);
  const channels = new WorkerChannels(registry);
  const tree = new WorkersTreeProvider(registry);
  const statusItems = new ServerStatusItems(registry);
  const pdbTerminals = new PdbTerminals(registry);
  const changeEmitter = new vscode.EventEmitter<void>();
  const reloadProblems = new ReloadProblems();
  const lmTools = registerLanguageModelTools(context, registry);
  const reloadWatcher = registry.withServers(() => import('./reloadWatcher'));
  context.subscriptions.push(
    reloadProblems,
    interpreters,
    registry,
    channels,
    tree,
    statusItems,
    pdbTerminals,
    changeEmitter,
    registry.onDidChange(() => changeEmitter.fire()),
    tree.showIn(vscode.window.createTreeView('serverWorkers.workers', { treeDataProvider: tree, showCollapseAll: false })),
    vscode.tasks.registerTaskProvider(TASK_TYPE, new ServerTaskProvider(registry)),
    ...registerCommands({ registry, channels }),
    ...registerDashboard(context, { registry, channels }), registerMetricsEndpoint(registry),
    registerPythonFrameLinks(),
    ...registerDebugging(registry, context),
    ...registerExport(registry),
    registry.onDidAdd((server) => server.disposables.push(
      notifyMasterDeaths(server.supervisor, channels),
      new (reloadWatcher().ReloadWatcher)(server.supervisor),
      reloadProblems.track(server.supervisor),
    )),
    notifyInterpreterChanges(interpreters, registry),
  );
  setImmediate(() => void startAutoStartTasks()); // after activation: it reads settings and may fetch the tasks

  const reg = registry;
  return {
    servers: () => reg.models(),
    onDidChange: changeEmitter.event,
    testing: {
      channelLineCount: (serverName, slot) => channels.lineCount(serverName, slot),
      channelLines: (serverName, slot) => channels.lines(serverName, slot),
      statusTexts: () => Object.values(statusItems.texts()),
      pdbTerminals: () => pdbTerminals.views(),
      lmToolPrepared: (name) => lmTools.prepared(name),
      treeNodes: () => walk(tree).map((row) => row.node),
      treeRows: () => walk(tree).map(({ node, depth }) => {
        const item = tree.getTreeItem(node);
        const label = typeof item.label === 'string' ? item.label : item.label?.label ?? '';
        const tooltip = typeof item.tooltip === 'string' ? item.tooltip : item.tooltip?.value ?? '';
        return { depth, label, description: typeof item.description === 'string' ? item.description : '', tooltip, contextValue: item.contextValue };
      }),
    },
  };
}

function walk(tree: WorkersTreeProvider, parent?: WorkersNode, depth = 0): Array<{ node: WorkersNode; depth: number }> {
  return tree.getChildren(parent).flatMap((node) => [{ node, depth }, ...walk(tree, node, depth + 1)]);
}

/** Nothing may outlive the window: stop every server and wait for it. */
export async function deactivate(): Promise<void> {
  await registry?.stopAll();
  registry = undefined;
}
