/** What activate() returns: the live model for other extensions; and, apart, what only this extension's tests use. */
import type * as vscode from 'vscode';
import type { ServerModel } from '../core/model';
import type { PdbTerminalView } from './pdb';
import type { WorkersNode } from './workersTree';

export interface ServerWorkersApi {
  /** Every server this window runs, as of its last change (immutable snapshots). */
  servers(): readonly ServerModel[];
  /** Fires whenever any server's model changes. */
  onDidChange: vscode.Event<void>;
  /** For this extension's own tests only: not an API for other extensions, and it may change in any release. */
  readonly testing: ServerWorkersTesting;
}

/** What the e2e tests read of the views: what a user would see. */
export interface ServerWorkersTesting {
  /** The Workers view's rows as the tree shows them: label, description and tooltip of each node, depth-first. */
  treeRows(): Array<{ depth: number; label: string; description: string; tooltip: string; contextValue?: string }>;
  /** The node objects of the Workers view, for commands that take a tree node. */
  treeNodes(): WorkersNode[];
  /** How many lines a server's channel holds (slot 0: master). */
  channelLineCount(serverName: string, slot: number): number;
  /** The lines a server's channel holds now (the newest: at least 10,000 when it has that many, at most 40,000). */
  channelLines(serverName: string, slot: number): string[];
  /** What the status-bar items of the servers show. */
  statusTexts(): string[];
  /** The pdb terminals open (breakpoint() in a worker): name, worker pid, what each showed, whether pdb waits. */
  pdbTerminals(): PdbTerminalView[];
  /** What a language model tool's prepareInvocation last returned to VS Code: its confirmation, for one that changes something. */
  lmToolPrepared(name: string): vscode.PreparedToolInvocation | undefined;
}
