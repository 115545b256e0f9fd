/**
 * The agent tools (src/tools/) as VS Code language model tools, loaded on the first call: the host is the Workers
 * view's registry (a server an agent starts shows in the tree with its channels), a changing tool asks for a
 * confirmation that says what it will do, and in an untrusted workspace only the read-only tools run. Nothing throws:
 * an error is the tool's answer.
 */
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { ResolvedDefinition } from '../../core/definition';
import type { Supervisor } from '../../core/supervisor';
import { findTool, invokeTool, type ToolHost } from '../../tools';
import { resolveStart } from '../../tools/start';
import { findServer, findWorker } from '../../tools/target';
import type { ServerRegistry } from '../serverRegistry';

const PREFIX = 'server-workers_';

const folderOf = (dir: string) => vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dir)) ?? vscode.workspace.workspaceFolders?.[0];

/** The Workers view's servers, as the tools' host. */
class RegistryHost implements ToolHost {
  constructor(private readonly registry: ServerRegistry) {}

  get cwd(): string {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
  }

  servers(): readonly Supervisor[] {
    return this.registry.all().map((s) => s.supervisor);
  }

  /** The setting serverWorkers.python, else the interpreter selected in the Python extensions, else the virtualenv. */
  defaultPython(dir: string): Promise<string | undefined> {
    return this.registry.interpreterFor(folderOf(dir));
  }

  async create(definition: ResolvedDefinition): Promise<Supervisor> {
    return (await this.registry.create(definition, folderOf(definition.cwd))).supervisor;
  }

  async stop(supervisor: Supervisor): Promise<void> {
    await supervisor.stop();
    this.registry.remove(supervisor);
  }
}

export async function invoke(name: string, input: unknown, registry: ServerRegistry, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
  const tool = findTool(name.slice(PREFIX.length));
  let text: string;
  if (!tool) {
    text = vscode.l10n.t('Error: Server Workers has no tool named {0}.', name);
  } else if (!tool.readOnly && !vscode.workspace.isTrusted) {
    text = vscode.l10n.t('Error: {0} changes servers, which Server Workers does not do in an untrusted workspace. Trust the workspace first (Manage Workspace Trust).', name);
  } else {
    const cancel = new AbortController();
    const subscription = token.onCancellationRequested(() => cancel.abort());
    try {
      const result = await invokeTool(tool, input, new RegistryHost(registry), cancel.signal);
      text = result.isError ? `Error: ${result.text}` : result.text;
    } finally {
      subscription.dispose();
    }
  }
  return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
}

/** The progress message, and for a tool that changes something the confirmation that says what it will do. */
export async function prepare(name: string, input: unknown, registry: ServerRegistry): Promise<vscode.PreparedToolInvocation> {
  const tool = findTool(name.slice(PREFIX.length));
  const args = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (!tool || tool.readOnly) return { invocationMessage: vscode.l10n.t('Server Workers: {0}', tool?.title ?? name) };
  const host = new RegistryHost(registry);
  try {
    return { invocationMessage: vscode.l10n.t('Server Workers: {0}', tool.title), confirmationMessages: await confirmation(tool.name, args, host) };
  } catch {
    // An input the tool will refuse: no question, the tool's answer says what was wrong.
    return { invocationMessage: vscode.l10n.t('Server Workers: {0}', tool.title) };
  }
}

async function confirmation(tool: string, input: Record<string, unknown>, host: ToolHost): Promise<vscode.LanguageModelToolConfirmationMessages> {
  if (tool === 'start_server') {
    const d = await resolveStart(input, host);
    return {
      title: vscode.l10n.t('Start a server?'),
      message: vscode.l10n.t('Start {0}: {1} {2} with {3} workers on {4}:{5}, in {6}?', d.name, d.server, d.app, d.workers, d.host, d.port, d.cwd),
    };
  }
  const server = findServer(host, input.server);
  const name = server.name;
  switch (tool) {
    case 'scale_workers':
      return { title: vscode.l10n.t('Scale {0}?', name), message: vscode.l10n.t('Scale {0} from {1} to {2} workers?', name, server.currentDefinition.workers, input.workers as number) };
    case 'kill_worker': {
      const worker = findWorker(server, input.slot as number);
      return {
        title: vscode.l10n.t('Kill a worker of {0}?', name),
        message: input.graceful === true
          ? vscode.l10n.t('Stop worker {0} of {1} (pid {2}) with SIGTERM? It finishes its requests, then a new worker takes its slot.', worker.slot, name, worker.pid)
          : vscode.l10n.t('Kill worker {0} of {1} (pid {2}) with SIGKILL? Its requests in flight fail, then a new worker takes its slot.', worker.slot, name, worker.pid),
      };
    }
    case 'reload_server':
      return { title: vscode.l10n.t('Reload {0}?', name), message: vscode.l10n.t('Replace every worker of {0} with new ones running the code on disk? The old workers serve until the new ones are ready, and go on serving if the new code does not boot.', name) };
    case 'restart_server':
      return { title: vscode.l10n.t('Restart {0}?', name), message: vscode.l10n.t('Restart {0}? Every process stops (requests in flight finish first), then the server starts again.', name) };
    default:
      return { title: vscode.l10n.t('Stop {0}?', name), message: vscode.l10n.t('Stop {0}? Its master and its {1} workers stop, and it leaves the Workers view.', name, server.model().workers.length) };
  }
}
