/** The `serverworkers` debug type: debugging workers of a multi-worker server (docs/architecture.md, "Debugging"). */
import * as vscode from 'vscode';
import { onCore, type ServerRegistry } from '../serverRegistry';
import { TASK_TYPE } from '../taskProvider';
import type { WorkersNode } from '../workersTree';
import { WorkerAdapterFactory } from './adapterFactory';
import { WorkerDebugConfigurations } from './configurationProvider';
import { DynamicConfigurations } from './dynamicConfigurations';
import { WorkerRecycler } from './recycler';
import { DebugSessions } from './sessions';
import { DEBUG_TYPE } from './types';

export { DEBUG_TYPE } from './types';

export function registerDebugging(registry: ServerRegistry, context: vscode.ExtensionContext): vscode.Disposable[] {
  const recycler = new WorkerRecycler();
  const sessions = new DebugSessions(registry, recycler);
  return [
    sessions,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new WorkerDebugConfigurations(registry, sessions, recycler, taskProperties(context))),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new DynamicConfigurations(registry), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new WorkerAdapterFactory()),
    vscode.debug.onDidStartDebugSession((session) => sessions.started(session)),
    vscode.debug.onDidTerminateDebugSession((session) => sessions.terminated(session)),
    registry.onDidAdd((server) => server.disposables.push(onCore(server.supervisor.onWorker, ({ type, worker }) => {
      if (type === 'ready') sessions.reattach.workerReady(server, worker);
    }))),
    // As a launch.json variable, VS Code passes the debug configuration: its serverName narrows the choice.
    vscode.commands.registerCommand('serverWorkers.pickWorker', async (config?: { serverName?: unknown }) => (await import('./workerPick')).pickWorker(registry, config?.serverName)),
    vscode.commands.registerCommand('serverWorkers.debugWorker', async (node?: WorkersNode) => (await import('./workerPick')).debugWorker(registry, node)),
  ];
}

/** The properties a serverworkers task takes (package.json), which a launch configuration may give inline. */
function taskProperties(context: vscode.ExtensionContext): Set<string> {
  const manifest = context.extension.packageJSON as { contributes?: { taskDefinitions?: Array<{ type: string; properties?: Record<string, unknown> }> } };
  const definitions = manifest.contributes?.taskDefinitions ?? [];
  return new Set(Object.keys(definitions.find((d) => d.type === TASK_TYPE)?.properties ?? {}));
}
