/** Show Stack: a worker's stacks written into its channel, which opens; its file:line references open the file. */
import * as vscode from 'vscode';
import type { WorkerChannels } from './outputChannels';
import type { RunningServer, ServerRegistry } from './serverRegistry';
import type { WorkersNode } from './workersTree';

/** From the tree's context menu (a worker node), or the palette (a pick of the server's live workers). */
export async function showStack(
  registry: ServerRegistry,
  channels: WorkerChannels,
  pickServer: () => Promise<RunningServer | undefined>,
  target?: WorkersNode,
): Promise<void> {
  const server = target ? registry.get(target.serverId) : await pickServer();
  if (!server) return;
  const slot = target?.kind === 'worker' ? target.slot : await pickWorker(server);
  if (slot === undefined) return;
  channels.show(server.supervisor.name, slot);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Reading the stacks of worker {0}', slot) },
    () => server.supervisor.showStacks(slot),
  );
}

async function pickWorker(server: RunningServer): Promise<number | undefined> {
  const live = server.supervisor.model().workers.filter((w) => w.state !== 'exited');
  if (live.length === 0) throw new Error(vscode.l10n.t('{0} has no running worker.', server.supervisor.name));
  if (live.length === 1) return live[0].slot;
  const picked = await vscode.window.showQuickPick(
    live.map((w) => ({ label: vscode.l10n.t('worker {0}', w.slot), description: `pid ${w.pid} · ${w.state}`, slot: w.slot })),
    { placeHolder: vscode.l10n.t('Whose stack?') },
  );
  return picked?.slot;
}

/** `File "/abs/path.py", line 12`: what faulthandler, the agent's task stacks and Python's tracebacks write. */
const PYTHON_FRAME = /File "(\/[^"]+)", line (\d+)/g;

/** Links from Python frame references in output channels to the file at that line. */
export class PythonFrameLinks implements vscode.DocumentLinkProvider {
  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    const links: vscode.DocumentLink[] = [];
    const text = document.getText();
    for (const match of text.matchAll(PYTHON_FRAME)) {
      const start = document.positionAt(match.index);
      const end = document.positionAt(match.index + match[0].length);
      const line = Number(match[2]);
      const link = new vscode.DocumentLink(new vscode.Range(start, end), vscode.Uri.file(match[1]).with({ fragment: `L${line}` }));
      link.tooltip = vscode.l10n.t('Open {0} at line {1}', match[1], line);
      links.push(link);
    }
    return links;
  }
}

export function registerPythonFrameLinks(): vscode.Disposable {
  return vscode.languages.registerDocumentLinkProvider({ scheme: 'output' }, new PythonFrameLinks());
}
