/** What activate() returns: the live model, for other extensions and the e2e tests. */
import type * as vscode from 'vscode';
import type { ServerModel } from '../core/model';
import type { WorkersNode } from './workersTree';

export interface ServerWorkersApi {
  /** Every server this window runs, as its supervisor sees it now. */
  servers(): ServerModel[];
  /** Fires whenever any server's model changes. */
  onDidChange: vscode.Event<void>;
  /** The Workers view's rows as the tree shows them: label and description of each node, depth-first. */
  treeRows(): Array<{ depth: number; label: string; description: string; contextValue?: string }>;
  /** How many lines a server's channel holds (slot 0: master). */
  channelLineCount(serverName: string, slot: number): number;
  /** The lines a server's channel holds now (the newest: at least 20,000 when it has that many, at most 40,000). */
  channelLines(serverName: string, slot: number): string[];
  /** What the status-bar items of the servers show. */
  statusTexts(): string[];
  /** The node objects of the Workers view, for commands that take a tree node. */
  treeNodes(): WorkersNode[];
}
