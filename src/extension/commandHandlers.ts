/** What each command of the palette and the tree does (registered by commands.ts; loaded on the first one run). */
import * as vscode from 'vscode';
import type { ServerDefinition } from '../core/definition';
import { startAutoStartTasks } from './autoStart';
import type { CommandContext, CommandId, Target } from './commandIds';
import type { TaskAnswers } from './createTask';
import { untrustedWorkspaceMessage } from './errors';
import type { RunningServer } from './serverRegistry';
import { showStack } from './showStack';
import { createServerTask, type ServerTaskDefinition, TASK_TYPE } from './taskProvider';
import type { WorkersNode } from './workersTree';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each takes what VS Code passes it (a tree node, a name, a count)
export function commandHandlers(ctx: CommandContext): Record<CommandId, (...args: any[]) => unknown> {
  return {
    'serverWorkers.start': (arg?: string | ServerDefinition) => startWorkers(ctx, arg),
    'serverWorkers.createTask': (answers?: TaskAnswers) => createTask(ctx, answers),
    'serverWorkers.stop': (target?: Target) => withServer(ctx, target, async (s) => {
      await s.supervisor.stop();
      ctx.registry.remove(s.supervisor);
    }),
    'serverWorkers.restart': (target?: Target) => withServer(ctx, target, (s) => progress(vscode.l10n.t('Restarting {0}', s.supervisor.name), s.supervisor.restart())),
    'serverWorkers.reload': (target?: Target) => withServer(ctx, target, (s) => progress(vscode.l10n.t('Reloading {0}', s.supervisor.name), s.supervisor.reload())),
    'serverWorkers.enableReloadOnSave': (target?: Target) => withServer(ctx, target, (s) => Promise.resolve(s.supervisor.setReloadOnSave(true))),
    'serverWorkers.disableReloadOnSave': (target?: Target) => withServer(ctx, target, (s) => Promise.resolve(s.supervisor.setReloadOnSave(false))),
    'serverWorkers.scale': (target?: Target, count?: number) => withServer(ctx, target, (s) => scaleTo(s, count)),
    'serverWorkers.scaleUp': (target?: Target) => withServer(ctx, target, (s) => scaleTo(s, s.supervisor.currentDefinition.workers + 1)),
    'serverWorkers.scaleDown': (target?: Target) => withServer(ctx, target, (s) => scaleTo(s, s.supervisor.currentDefinition.workers - 1)),
    'serverWorkers.showLogs': (target?: Target) => showLogs(ctx, target),
    'serverWorkers.saveWorkerCount': (target?: Target) => withServer(ctx, target, (s) => saveWorkerCount(s)),
    'serverWorkers.runAutoStart': () => startAutoStartTasks(),
    'serverWorkers.killWorker': (target?: WorkersNode) => withWorker(ctx, target, (s, slot) => progress(vscode.l10n.t('Killing worker {0}', slot), s.supervisor.killWorker(slot))),
    'serverWorkers.copyPid': (target?: WorkersNode) => copyPid(ctx, target),
    'serverWorkers.showStack': (target?: WorkersNode) => showStack(ctx.registry, ctx.channels, () => pickServer(ctx, undefined), target),
    'serverWorkers.openInBrowser': (target?: Target) => withServer(ctx, target, async (s) => {
      const uri = await vscode.env.asExternalUri(vscode.Uri.parse(s.supervisor.model().url));
      await vscode.env.openExternal(uri);
    }),
  };
}

/** Start Workers: a task by name, an inline definition, or a pick of the workspace's serverworkers tasks. */
async function startWorkers(ctx: CommandContext, arg?: string | ServerDefinition): Promise<string | undefined> {
  // VS Code would ask for trust before listing or running tasks, and run nothing when refused: say why at once
  // instead of waiting for a server forever.
  if (!vscode.workspace.isTrusted) throw new Error(untrustedWorkspaceMessage(typeof arg === 'object' ? arg.name : arg));
  let task: vscode.Task | undefined;
  if (arg !== undefined && typeof arg === 'object') {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const label = arg.name ?? `${arg.server ?? 'gunicorn'} ${arg.app}`;
    const definition: ServerTaskDefinition = { ...arg, type: TASK_TYPE };
    task = createServerTask(ctx.registry, definition, folder ?? vscode.TaskScope.Workspace, label);
  } else {
    const tasks = await vscode.tasks.fetchTasks({ type: TASK_TYPE });
    if (typeof arg === 'string') {
      task = tasks.find((t) => t.name === arg);
      if (!task) throw new Error(vscode.l10n.t('No serverworkers task named "{0}" in tasks.json.', arg));
    } else {
      const create = { label: `$(add) ${vscode.l10n.t('Create a task...')}`, description: vscode.l10n.t('writes a serverworkers task to .vscode/tasks.json'), task: undefined };
      const picked = tasks.length === 0 ? create : await vscode.window.showQuickPick(
        [...tasks.map((t): { label: string; description: string; detail?: string; task: vscode.Task | undefined } => ({ label: t.name, description: describeTask(t), detail: t.detail, task: t })), create],
        { title: vscode.l10n.t('Start Workers'), placeHolder: vscode.l10n.t('Which server?') },
      );
      if (!picked) return undefined;
      if (picked === create) {
        const label = await createTask(ctx, {});
        if (!label) return undefined;
        task = (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((t) => t.name === label);
      } else {
        task = picked.task;
      }
    }
  }
  if (!task) return undefined;
  const added = new Promise<string>((resolve) => {
    const subscription = ctx.registry.onDidAdd(({ supervisor }) => {
      subscription.dispose();
      resolve(supervisor.id);
    });
  });
  await vscode.tasks.executeTask(task);
  return added;
}

/** Create a Task (its server detection and questions load on first use). */
async function createTask(ctx: CommandContext, answers: TaskAnswers | undefined): Promise<string | undefined> {
  const { createTask: create } = await import('./createTask');
  return create(answers, (folder) => ctx.registry.interpreterFor(folder));
}

function describeTask(task: vscode.Task): string {
  const def = task.definition as ServerTaskDefinition;
  return `${def.server ?? 'gunicorn'} ${def.app ?? ''}${def.workers ? ` · ${def.workers} workers` : ''}`;
}

export async function pickServer(ctx: CommandContext, target: Target): Promise<RunningServer | undefined> {
  if (typeof target === 'object' && target) return ctx.registry.get(target.serverId);
  if (typeof target === 'string') return ctx.registry.get(target) ?? ctx.registry.findByName(target);
  const running = ctx.registry.all();
  if (running.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No server is running. Run "Server Workers: Start Workers" first.'));
    return undefined;
  }
  if (running.length === 1) return running[0];
  const picked = await vscode.window.showQuickPick(
    running.map((s) => ({ label: s.supervisor.name, description: s.supervisor.model().url, server: s })),
    { placeHolder: vscode.l10n.t('Which server?') },
  );
  return picked?.server;
}

async function withServer(ctx: CommandContext, target: Target, action: (server: RunningServer) => Promise<unknown>): Promise<void> {
  const server = await pickServer(ctx, target);
  if (server) await action(server);
}

async function withWorker(ctx: CommandContext, target: WorkersNode | undefined, action: (server: RunningServer, slot: number) => Promise<unknown>): Promise<void> {
  if (target?.kind !== 'worker') throw new Error(vscode.l10n.t('Choose a worker in the Workers view.'));
  const server = ctx.registry.get(target.serverId);
  if (server) await action(server, target.slot);
}

async function scaleTo(server: RunningServer, count: number | undefined): Promise<void> {
  let target = count;
  if (target === undefined) {
    const { MAX_WORKERS } = await import('../core/definition');
    const answer = await vscode.window.showInputBox({
      title: vscode.l10n.t('Scale {0}', server.supervisor.name),
      prompt: vscode.l10n.t('How many workers? (1 to {0})', MAX_WORKERS),
      value: String(server.supervisor.currentDefinition.workers),
      validateInput: (value) => (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_WORKERS ? undefined : vscode.l10n.t('A whole number from 1 to {0}.', MAX_WORKERS)),
    });
    if (answer === undefined) return;
    target = Number(answer);
  }
  if (target < 1) {
    void vscode.window.showInformationMessage(vscode.l10n.t('{0} already runs one worker, the fewest there can be. Use Stop Workers to stop it.', server.supervisor.name));
    return;
  }
  await progress(vscode.l10n.t('Scaling {0} to {1} workers', server.supervisor.name, target), server.supervisor.scale(target));
}

/** Writes the server's current worker count into its task in tasks.json. */
async function saveWorkerCount(server: RunningServer): Promise<void> {
  if (!server.folder) throw new Error(vscode.l10n.t('{0} has no workspace folder to save to.', server.supervisor.name));
  const config = vscode.workspace.getConfiguration('tasks', server.folder.uri);
  const tasks = (config.get<Array<Record<string, unknown>>>('tasks') ?? []).map((t) => ({ ...t }));
  const task = tasks.find((t) => t.type === TASK_TYPE && t.label === server.label);
  if (!task) {
    throw new Error(vscode.l10n.t('{0} was not started from a task in tasks.json (it is a detected task or an inline definition). Use "Create a Task..." first.', server.supervisor.name));
  }
  task.workers = server.supervisor.currentDefinition.workers;
  await config.update('tasks', tasks, vscode.ConfigurationTarget.WorkspaceFolder);
  void vscode.window.showInformationMessage(vscode.l10n.t('Saved {0} workers to the task "{1}".', String(task.workers), server.label));
}

async function showLogs(ctx: CommandContext, target: Target): Promise<void> {
  if (typeof target === 'object' && target && target.kind !== 'server') {
    const server = ctx.registry.get(target.serverId);
    if (server) ctx.channels.show(server.supervisor.name, target.kind === 'master' ? 0 : target.slot);
    return;
  }
  const server = await pickServer(ctx, target);
  if (!server) return;
  const model = server.supervisor.model();
  const picked = await vscode.window.showQuickPick(
    [{ label: vscode.l10n.t('master'), slot: 0, description: model.master ? `pid ${model.master.pid}` : '' },
      ...model.workers.map((w) => ({ label: vscode.l10n.t('worker {0}', w.slot), slot: w.slot, description: `pid ${w.pid} · ${w.state}` }))],
    { placeHolder: vscode.l10n.t('Whose logs?') },
  );
  if (picked) ctx.channels.show(server.supervisor.name, picked.slot);
}

async function copyPid(ctx: CommandContext, target: WorkersNode | undefined): Promise<void> {
  if (!target) return;
  const model = ctx.registry.get(target.serverId)?.supervisor.model();
  const pid = target.kind === 'master' ? model?.master?.pid : target.kind === 'worker' ? model?.workers.find((w) => w.slot === target.slot)?.pid : undefined;
  if (pid !== undefined) await vscode.env.clipboard.writeText(String(pid));
}

async function progress<T>(title: string, work: Promise<T>): Promise<T> {
  return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, () => work);
}
