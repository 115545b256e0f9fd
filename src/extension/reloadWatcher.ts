/**
 * Reload on save in VS Code: while a server has it on, VS Code's file watcher watches its `reload.include` globs under
 * its cwd; changes (saves in the editor, a git checkout, another tool) are filtered by `reload.exclude` and debounced
 * into one reload (ChangeBatcher), which takes the same path as the Reload Workers command. A failed reload is not a
 * message box: the Problems view, the master's channel and the status bar say it (reloadProblems.ts, statusBar.ts).
 */
import * as vscode from 'vscode';
import { ChangeBatcher } from '../core/reload/changeBatcher';
import type { Supervisor } from '../core/supervisor';
import { onCore } from './serverRegistry';

export class ReloadWatcher implements vscode.Disposable {
  private watching: vscode.Disposable[] | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly supervisor: Supervisor) {
    this.subscription = onCore(supervisor.onDidChange, () => this.update());
    this.update();
  }

  private update(): void {
    const model = this.supervisor.model();
    const wanted = model.reload.onSave && model.state !== 'stopped' && model.state !== 'failed';
    if (wanted && !this.watching) this.watching = this.watch();
    else if (!wanted && this.watching) this.stopWatching();
  }

  private watch(): vscode.Disposable[] {
    const { cwd, reload } = this.supervisor.currentDefinition;
    const batcher = new ChangeBatcher({ root: cwd, include: reload.include, exclude: reload.exclude }, (files) => this.reload(files));
    const disposables: vscode.Disposable[] = [{ dispose: () => batcher.dispose() }];
    for (const glob of reload.include) {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(cwd), glob));
      const changed = (uri: vscode.Uri) => batcher.changed(uri.fsPath);
      disposables.push(watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), watcher.onDidDelete(changed));
    }
    return disposables;
  }

  private reload(files: string[]): void {
    const model = this.supervisor.model();
    if (!model.reload.onSave || (model.state !== 'running' && model.state !== 'reloading')) return;
    this.supervisor.reload(files).catch(() => undefined); // said in the Problems view, the channel and the status bar
  }

  private stopWatching(): void {
    for (const disposable of this.watching?.splice(0) ?? []) disposable.dispose();
    this.watching = undefined;
  }

  dispose(): void {
    this.subscription.dispose();
    this.stopWatching();
  }
}
