/**
 * The "Workers" view: server -> master -> workers (the rows: workerRows.ts). VS Code is told only of the rows whose
 * text changed, when a server's model changes and when time moves a row's text (timeMovesRowsIn); nothing while the
 * view is hidden, and all of it once it shows again.
 */
import * as vscode from 'vscode';
import type { ServerModel, WorkerModel } from '../core/model';
import type { ServerRegistry } from './serverRegistry';
import { formatUptime, timeMovesRowsIn } from './format';

export type WorkersNode =
  | { kind: 'server'; serverId: string }
  | { kind: 'master'; serverId: string }
  | { kind: 'worker'; serverId: string; slot: number; retiringPid?: number; incomingPid?: number };

interface Row {
  /** What the row was built from: the same parts, the same row. */
  key: unknown[];
  item: vscode.TreeItem;
  signature: string;
}

function sameParts(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const slotIndexes = new WeakMap<ServerModel, Map<number, WorkerModel>>();

/** A model's workers by slot (a model is frozen: indexed once). */
function workersBySlot(model: ServerModel): Map<number, WorkerModel> {
  let index = slotIndexes.get(model);
  if (!index) {
    index = new Map(model.workers.map((w) => [w.slot, w]));
    slotIndexes.set(model, index);
  }
  return index;
}

/** Stable node objects, so that VS Code refreshes a server's subtree in place. */
class NodeCache {
  private readonly nodes = new Map<string, WorkersNode>();

  get<T extends WorkersNode>(key: string, create: () => T): T {
    let node = this.nodes.get(key);
    if (!node) {
      node = create();
      this.nodes.set(key, node);
    }
    return node as T;
  }

  forgetServer(serverId: string): void {
    for (const key of this.nodes.keys()) if (key.startsWith(`${serverId}/`)) this.nodes.delete(key);
  }
}

export class WorkersTreeProvider implements vscode.TreeDataProvider<WorkersNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<WorkersNode | WorkersNode[] | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly cache = new NodeCache();
  private readonly subscription: vscode.Disposable;

  /** The rows' builders (and what they need: request insight's texts), loaded with the first server. */
  private readonly rowBuilders: () => typeof import('./workerRows');

  constructor(private readonly registry: ServerRegistry) {
    this.rowBuilders = registry.withServers(() => import('./workerRows'));
    this.subscription = registry.onDidChange((supervisor) => {
      if (supervisor && registry.get(supervisor.id)) this.refreshServer(supervisor.id);
      else this.refreshAll();
    });
  }

  /** How many rows the last refreshes re-rendered (to prove unchanged rows are left alone). */
  refreshedRows = 0;
  /** What each row looked like when VS Code last got it, by node: unchanged rows are not refreshed. */
  private rendered = new WeakMap<WorkersNode, string>();
  /** Each row as last built (see `row`). */
  private readonly rows = new WeakMap<WorkersNode, Row>();
  private view: vscode.TreeView<WorkersNode> | undefined;
  /** Something changed while the view was hidden: it is refreshed whole when it shows again. */
  private stale = false;
  /** Refreshes the rows that time moves (uptime, a request's age), while the view shows. */
  private clock: { timer: NodeJS.Timeout; at: number } | undefined;

  /** The view that shows this tree (while it is hidden, nothing is refreshed); disposing of the result disposes of it. */
  showIn(view: vscode.TreeView<WorkersNode>): vscode.Disposable {
    this.view = view;
    const subscription = view.onDidChangeVisibility(({ visible }) => {
      if (!visible) this.stopClock();
      else if (this.stale) this.refreshAll();
      else this.tickLater();
    });
    return { dispose: () => {
      subscription.dispose();
      this.stopClock();
      this.view = undefined;
      view.dispose();
    } };
  }

  private get hidden(): boolean {
    return this.view !== undefined && !this.view.visible;
  }

  private refreshAll(): void {
    if (this.hidden) {
      this.stale = true;
      return;
    }
    this.stale = false;
    this.rendered = new WeakMap();
    this.changeEmitter.fire(undefined);
    this.tickLater();
  }

  private refreshServer(serverId: string): void {
    if (this.hidden) {
      this.stale = true;
      return;
    }
    this.renderChanged(serverId);
    this.tickLater();
  }

  private renderChanged(serverId: string): void {
    const server = this.serverNode(serverId);
    const children = this.getChildren(server);
    const serverSignature = `${this.row(server).signature}|${children.map((c) => this.getTreeItem(c).id).join(',')}`;
    if (this.rendered.get(server) !== serverSignature) {
      this.rendered.set(server, serverSignature);
      for (const child of children) this.rendered.set(child, this.row(child).signature);
      this.refreshedRows += 1 + children.length;
      this.changeEmitter.fire(server);
      return;
    }
    const changed = children.filter((child) => {
      const current = this.row(child).signature;
      if (this.rendered.get(child) === current) return false;
      this.rendered.set(child, current);
      return true;
    });
    if (changed.length > 0) {
      this.refreshedRows += changed.length;
      this.changeEmitter.fire(changed);
    }
  }

  /** The clock's next tick: when time next moves a shown row's text (none while hidden or without servers). */
  private tickLater(): void {
    const models = this.registry.models();
    if (this.hidden || models.length === 0) {
      this.stopClock();
      return;
    }
    const now = Date.now();
    const at = now + Math.min(...models.map((model) => timeMovesRowsIn(model, now)));
    if (this.clock && this.clock.at <= at) return;
    this.stopClock();
    const timer = setTimeout(() => {
      this.clock = undefined;
      for (const model of this.registry.models()) this.renderChanged(model.id);
      this.tickLater();
    }, at - now);
    timer.unref?.();
    this.clock = { timer, at };
  }

  private stopClock(): void {
    if (this.clock) clearTimeout(this.clock.timer);
    this.clock = undefined;
  }

  getChildren(element?: WorkersNode): WorkersNode[] {
    if (!element) return this.registry.models().map((m) => this.serverNode(m.id));
    if (element.kind !== 'server') return [];
    const model = this.model(element.serverId);
    if (!model) return [];
    const children: WorkersNode[] = [];
    if (model.master) children.push(this.cache.get(`${model.id}/master`, () => ({ kind: 'master', serverId: model.id })));
    for (const worker of model.workers) {
      children.push(this.cache.get(`${model.id}/worker/${worker.slot}`, () => ({ kind: 'worker', serverId: model.id, slot: worker.slot })));
    }
    for (const worker of model.retiring) {
      children.push(this.cache.get(`${model.id}/retiring/${worker.pid}`, () => ({ kind: 'worker', serverId: model.id, slot: worker.slot, retiringPid: worker.pid })));
    }
    for (const worker of model.incoming) {
      children.push(this.cache.get(`${model.id}/incoming/${worker.pid}`, () => ({ kind: 'worker', serverId: model.id, slot: worker.slot, incomingPid: worker.pid })));
    }
    return children;
  }

  getParent(element: WorkersNode): WorkersNode | undefined {
    return element.kind === 'server' ? undefined : this.serverNode(element.serverId);
  }

  getTreeItem(element: WorkersNode): vscode.TreeItem {
    return this.row(element).item;
  }

  /**
   * A row's item and signature, built again only when what it shows may have changed: its worker's model object (the
   * core keeps a worker's object while its figures stay), the uptime shown, and the time itself while a request is in
   * flight. An idle server's tick changes a few workers' CPU: only their rows are built.
   */
  private row(element: WorkersNode): Row {
    const model = this.model(element.serverId);
    if (!model) return { key: [], item: new vscode.TreeItem(''), signature: '' };
    const now = Date.now();
    let key: unknown[];
    let build: () => vscode.TreeItem;
    if (element.kind === 'server') {
      // What its row shows: the server's own fields, and its workers' states and request figures (their sums).
      const { reload } = model;
      key = [model.id, model.name, model.url, model.state, model.kind, model.desiredWorkers, model.workersFormula, model.memoryLimitBytes, model.error,
        model.capabilities, reload.onSave, reload.generation, reload.restartBecause, reload.failure];
      for (const worker of model.workers) key.push(worker.state, worker.insight);
      build = () => this.rowBuilders().serverItem(model);
    } else if (element.kind === 'master') {
      const { master } = model;
      key = [model.id, model.kind, master?.pid, master?.cpuPercent, master?.rssBytes, master?.pdb, master && formatUptime(master.startedAt, now)];
      build = () => this.rowBuilders().processItem(model, 'master', master, now);
    } else {
      const role = element.incomingPid !== undefined ? 'incoming' : element.retiringPid !== undefined ? 'retiring' : undefined;
      const worker = role === 'incoming' ? model.incoming.find((w) => w.pid === element.incomingPid)
        : role === 'retiring' ? model.retiring.find((w) => w.pid === element.retiringPid)
          : workersBySlot(model).get(element.slot);
      if (!worker) return { key: [], item: new vscode.TreeItem(''), signature: '' };
      const inFlight = (worker.insight?.inFlight ?? 0) > 0;
      key = [model.id, model.memoryLimitBytes, worker, role, formatUptime(worker.startedAt, now), inFlight ? now : 0];
      build = () => this.rowBuilders().workerItem(model, worker, role, now);
    }
    const cached = this.rows.get(element);
    if (cached && sameParts(cached.key, key)) return cached;
    const item = build();
    const row = { key, item, signature: this.rowBuilders().signature(item) };
    this.rows.set(element, row);
    return row;
  }

  serverNode(serverId: string): WorkersNode {
    return this.cache.get(`${serverId}/`, () => ({ kind: 'server', serverId }));
  }

  private model(serverId: string): ServerModel | undefined {
    return this.registry.get(serverId)?.latest;
  }

  dispose(): void {
    this.stopClock();
    this.subscription.dispose();
    this.changeEmitter.dispose();
  }
}
