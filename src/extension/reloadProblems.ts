/**
 * A reload whose new code did not boot puts a problem at the traceback's file and line (the innermost frame of the
 * app's code) in the Problems view; the next reload that succeeds, or the server's end, takes it away.
 */
import * as vscode from 'vscode';
import type { ReloadEvent, Supervisor } from '../core/supervisor';
import { onCore } from './serverRegistry';

export class ReloadProblems implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('serverworkers-reload');
  /** Each server's problem, while its last reload failed. */
  private readonly byServer = new Map<string, { uri: vscode.Uri; diagnostic: vscode.Diagnostic }>();

  /** Follows a server's reloads until the returned disposable is disposed (when the server leaves the registry). */
  track(supervisor: Supervisor): vscode.Disposable {
    const subscription = onCore(supervisor.onReload, (event) => this.reloaded(supervisor, event));
    return { dispose: () => {
      subscription.dispose();
      this.set(supervisor.id, undefined);
    } };
  }

  private reloaded(supervisor: Supervisor, event: ReloadEvent): void {
    if (event.type === 'started') return;
    if (event.type !== 'failed' || !event.failure.file) {
      this.set(supervisor.id, undefined);
      return;
    }
    const line = Math.max(0, (event.failure.line ?? 1) - 1);
    const diagnostic = new vscode.Diagnostic(
      new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER),
      vscode.l10n.t('{0} (reload failed, {1} serves the previous code)', event.failure.message, supervisor.name),
      vscode.DiagnosticSeverity.Error,
    );
    diagnostic.source = 'Server Workers';
    this.set(supervisor.id, { uri: vscode.Uri.file(event.failure.file), diagnostic });
  }

  private set(serverId: string, problem: { uri: vscode.Uri; diagnostic: vscode.Diagnostic } | undefined): void {
    const before = this.byServer.get(serverId);
    if (problem) this.byServer.set(serverId, problem);
    else this.byServer.delete(serverId);
    for (const uri of [before?.uri, problem?.uri]) {
      if (!uri) continue;
      const here = [...this.byServer.values()].filter((p) => p.uri.toString() === uri.toString()).map((p) => p.diagnostic);
      this.collection.set(uri, here.length > 0 ? here : undefined);
    }
  }

  dispose(): void {
    this.collection.dispose();
    this.byServer.clear();
  }
}
