/**
 * Server Workers: Export for Production... A task (picked, or the server's row, or the CodeLens over it), a format
 * and a folder; files that exist with other contents are shown in a diff editor and replaced only when the user
 * says so. Imported on first use (see ./index.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ResolvedDefinition } from '../../core/definition';
import { readServerTasks } from '../../core/tasksFile';
import { EXPORT_FORMATS, type ExportFormat, exportFiles, FORMAT_DESCRIPTIONS } from '../../export';
import { projectFacts } from '../../export/project';
import { resolveForExport } from '../../export/resolve';
import type { Caveat, ExportResult, KeptVariable } from '../../export/types';
import { planWrites, type PlannedFile, writePlanned } from '../../export/write';
import type { ServerRegistry } from '../serverRegistry';
import type { WorkersNode } from '../workersTree';

/** Answers given up front (by the CodeLens, a caller or a test) skip their question. */
export interface ExportArgument {
  /** A serverworkers task's label. */
  task?: string;
  /** The task's workspace folder (a path). */
  folder?: string;
  format?: ExportFormat;
  outDir?: string;
  workersInContainer?: boolean;
  healthPath?: string;
  /** Replace files that exist with other contents (true) or keep them (false) without asking; unset: ask. */
  replace?: boolean;
}

export interface ExportOutcome {
  format: ExportFormat;
  outDir: string;
  /** The files written (new or replaced). */
  written: string[];
  /** Files that exist with other contents and were kept: nothing was written then. */
  kept: string[];
  caveats: Caveat[];
}

const CONTAINER_FORMATS: readonly ExportFormat[] = ['container', 'compose', 'kubernetes'];
const PREVIEW_SCHEME = 'server-workers-export';

interface TaskToExport {
  definition: ResolvedDefinition;
  folder: string;
  kept: KeptVariable[];
}

/** `arg`: a task's label, answers, or a server's row (then `rowAnswers` may answer the questions that follow). */
export async function exportForProduction(registry: ServerRegistry, arg?: ExportArgument | WorkersNode | string, rowAnswers: ExportArgument = {}): Promise<ExportOutcome | undefined> {
  // The export runs the task's interpreter (to learn its version and packages): not in a workspace not trusted.
  if (!vscode.workspace.isTrusted) {
    throw new Error(vscode.l10n.t('This workspace is not trusted, so Server Workers does not run its interpreter to export a task. Trust it (Manage Workspace Trust) to export one.'));
  }
  const answers: ExportArgument = typeof arg === 'string' ? { task: arg } : arg && 'serverId' in arg ? rowAnswers : (arg ?? {});
  const task = arg && typeof arg === 'object' && 'serverId' in arg ? await fromServerRow(registry, arg) : await fromTask(registry, answers);
  if (!task) return undefined;
  const format = answers.format ?? await pickFormat(task.definition);
  if (!format) return undefined;
  const workersInContainer = answers.workersInContainer ?? (CONTAINER_FORMATS.includes(format) ? await pickContainerMode(task.definition) : false);
  if (workersInContainer === undefined) return undefined;
  const outDir = answers.outDir ?? await pickFolder(task.folder);
  if (!outDir) return undefined;

  const project = await projectFacts(task.definition, task.folder);
  const result = exportFiles(format, {
    definition: task.definition, project, kept: task.kept,
    options: { workersInContainer, healthPath: answers.healthPath ?? '/', outDir },
  });
  const planned = planWrites(outDir, result.files);
  const changed = planned.filter((p) => p.status === 'changed');
  const replace = changed.length === 0 || (answers.replace ?? await askToReplace(changed));
  if (!replace) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Nothing was written: {0} exist with other contents, and were kept.', changed.map((p) => p.file.name).join(', ')));
    return { format, outDir, written: [], kept: changed.map((p) => p.path), caveats: result.caveats };
  }
  writePlanned(planned);
  report(result, outDir, planned);
  return { format, outDir, written: planned.filter((p) => p.status !== 'unchanged').map((p) => p.path), kept: [], caveats: result.caveats };
}

/** A server's row: its task in tasks.json when it has one (its variables as written), else the definition it runs. */
async function fromServerRow(registry: ServerRegistry, node: WorkersNode): Promise<TaskToExport | undefined> {
  const server = registry.get(node.serverId);
  if (!server) return undefined;
  const folder = server.folder?.uri.fsPath;
  if (folder && taskLabels(folder).includes(server.label)) return fromTask(registry, { task: server.label, folder });
  const definition = server.supervisor.currentDefinition;
  return { definition, folder: folder ?? definition.cwd, kept: [] };
}

function tasksFileOf(folder: string): string {
  return path.join(folder, '.vscode', 'tasks.json');
}

function taskLabels(folder: string): string[] {
  return fs.existsSync(tasksFileOf(folder)) ? readServerTasks(tasksFileOf(folder)).map((t) => t.label) : [];
}

async function fromTask(registry: ServerRegistry, answers: ExportArgument): Promise<TaskToExport | undefined> {
  let label = answers.task;
  let folder = answers.folder;
  if (label === undefined || folder === undefined) {
    const picked = await pickTask(label);
    if (!picked) return undefined;
    ({ label, folder } = picked);
  }
  const workspaceFolder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(folder));
  const python = await registry.interpreterFor(workspaceFolder);
  return resolveForExport({ task: label, tasksFile: tasksFileOf(folder), folder, properties: {} }, folder, process.env, python);
}

async function pickTask(label: string | undefined): Promise<{ label: string; folder: string } | undefined> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  const items = folders.flatMap((f) => {
    const file = tasksFileOf(f.uri.fsPath);
    if (!fs.existsSync(file)) return [];
    return readServerTasks(file)
      .filter((t) => label === undefined || t.label === label)
      .map((t) => ({
        label: t.label,
        description: `${t.definition.server ?? 'gunicorn'} ${t.definition.app ?? ''}${typeof t.definition.workers === 'number' ? ` · ${t.definition.workers} workers` : ''}`,
        detail: folders.length > 1 ? f.name : undefined,
        task: { label: t.label, folder: f.uri.fsPath },
      }));
  });
  if (items.length === 0) {
    throw new Error(label === undefined
      ? vscode.l10n.t('No serverworkers task in this workspace\'s tasks.json to export. Create one first: Server Workers: Create a Task...')
      : vscode.l10n.t('No serverworkers task named "{0}" in this workspace\'s tasks.json.', label));
  }
  if (items.length === 1 && label !== undefined) return items[0].task;
  const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Export for Production: which task?') });
  return picked?.task;
}

async function pickFormat(definition: ResolvedDefinition): Promise<ExportFormat | undefined> {
  const serverConfig = { gunicorn: 'gunicorn.conf.py', hypercorn: 'hypercorn.toml', uvicorn: 'serve.sh', granian: 'serve.sh' }[definition.server];
  const picked = await vscode.window.showQuickPick(
    EXPORT_FORMATS.map((format) => ({ label: format === 'gunicorn' ? serverConfig : format, detail: FORMAT_DESCRIPTIONS[format], format })),
    { title: vscode.l10n.t('Export {0} for production: which format?', definition.name) },
  );
  return picked?.format;
}

async function pickContainerMode(definition: ResolvedDefinition): Promise<boolean | undefined> {
  const picked = await vscode.window.showQuickPick([
    { label: vscode.l10n.t('One server process per container'), detail: vscode.l10n.t('For a cluster (or Compose): it runs {0} containers, and replicates them.', definition.workers), inContainer: false },
    { label: vscode.l10n.t('The task\'s {0} workers in one container', definition.workers), detail: vscode.l10n.t('For one machine, where nothing else replicates.'), inContainer: true },
  ], { title: vscode.l10n.t('Export {0}: how many processes in a container?', definition.name) });
  return picked?.inContainer;
}

async function pickFolder(folder: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false, canSelectFolders: true, canSelectMany: false, defaultUri: vscode.Uri.file(folder), openLabel: vscode.l10n.t('Export Here'),
  });
  return picked?.[0]?.fsPath;
}

/** The exported text of each file, for the diff editor's right side. */
const previews = new Map<string, string>();
let previewProvider: vscode.Disposable | undefined;

/** Shows what would change in each file that exists (a diff editor each), and asks whether to replace them. */
async function askToReplace(changed: PlannedFile[]): Promise<boolean> {
  previewProvider ??= vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, { provideTextDocumentContent: (uri) => previews.get(uri.path) ?? '' });
  for (const { file, path: target } of changed) {
    previews.set(target, file.text);
    const exported = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: target });
    await vscode.commands.executeCommand('vscode.diff', vscode.Uri.file(target), exported, vscode.l10n.t('{0}: as it is ↔ as exported', file.name), { preview: false });
  }
  const names = changed.map((p) => p.file.name).join(', ');
  const picked = await vscode.window.showQuickPick([
    { label: vscode.l10n.t('Replace'), detail: vscode.l10n.t('Write the exported {0} over the files there (the diff editors show the changes).', names), replace: true },
    { label: vscode.l10n.t('Keep them'), detail: vscode.l10n.t('Write nothing.'), replace: false },
  ], { title: vscode.l10n.t('{0} exist with other contents: replace them?', names), ignoreFocusOut: true });
  return picked?.replace === true;
}

let channel: vscode.OutputChannel | undefined;

/** What was written, what could not be carried over, and what to do next: in a channel, and a notification. */
function report(result: ExportResult, outDir: string, planned: PlannedFile[]): void {
  channel ??= vscode.window.createOutputChannel(vscode.l10n.t('Server Workers: Export'));
  channel.appendLine(vscode.l10n.t('Exported {0} to {1}:', result.format, outDir));
  for (const p of planned) channel.appendLine(`  ${p.file.name} (${p.status === 'changed' ? 'replaced' : p.status})`);
  if (result.caveats.length > 0) {
    channel.appendLine(vscode.l10n.t('Not carried over as it is (also said in the files):'));
    for (const c of result.caveats) channel.appendLine(`  - ${c.property}: ${c.message}`);
  }
  channel.appendLine(vscode.l10n.t('Next:'));
  for (const n of result.next) channel.appendLine(`  ${n}`);
  channel.appendLine('');
  const text = result.caveats.length > 0
    ? vscode.l10n.t('Exported {0} files to {1}. {2} things could not be carried over as they are: each file says which at its top.', planned.length, outDir, result.caveats.length)
    : vscode.l10n.t('Exported {0} files to {1}.', planned.length, outDir);
  const open = vscode.l10n.t('Open');
  const details = vscode.l10n.t('Show Details');
  void vscode.window.showInformationMessage(text, open, details).then(async (choice) => {
    if (choice === open) await vscode.window.showTextDocument(vscode.Uri.file(planned[planned.length - 1].path));
    if (choice === details) channel?.show();
  });
}
