/** VS Code's debug adapter for a worker: debugpy inside it, reached through its private Unix socket. */
import * as vscode from 'vscode';
import { targetOf } from './types';

export class WorkerAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const target = targetOf(session);
    if (!target) throw new Error(vscode.l10n.t('This debug session has no worker to connect to.'));
    return new vscode.DebugAdapterNamedPipeServer(target.socketPath);
  }
}
