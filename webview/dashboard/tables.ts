/**
 * The dashboard's text parts: the header's figures, the worker chips (a click hides or shows a worker's lines), the
 * requests in flight (oldest first), the slowest recent requests, and the events. Rows offer the worker's logs, its
 * stack (Show Stack) and a debug session (Debug Worker). Everything from a request (a path) goes in as text, never
 * as markup.
 */
import type { RowAction } from './protocol';
import type { Data } from './reducer';
import { t } from './strings';
import type { Theme } from './theme';
import { formatDuration, type InFlightView, type Marker, type Totals } from './view';
import type { SlowData } from './protocol';

export type OnRow = (action: RowAction, slot: number) => void;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Replaces the children of `parent` only when what they say changed (a table redrawn each second keeps its focus). */
function replaceIfChanged(parent: HTMLElement, key: string, build: () => Node[]): void {
  if (parent.dataset.key === key) return;
  parent.dataset.key = key;
  parent.replaceChildren(...build());
}

export function renderSummary(parent: HTMLElement, totals: Totals, data: Data, windowMinutes: number, latestRate: number | null, worstP99: number | null): void {
  const figures: Array<[string, string, string]> = [
    ['requests', t('Requests in {0} min', windowMinutes), String(totals.requests)],
    ['rate', t('Now, per second'), latestRate === null ? '–' : latestRate.toFixed(1)],
    ['p99', t('p99 now'), worstP99 === null ? '–' : formatDuration(worstP99)],
    ['4xx', '4xx', String(totals.status4xx)],
    ['5xx', '5xx', String(totals.status5xx)],
    ['in-flight', t('In flight'), String(data.inFlight.length)],
  ];
  replaceIfChanged(parent, JSON.stringify(figures), () => figures.map(([id, label, value]) => {
    const figure = element('div', 'figure');
    figure.dataset.figure = id;
    figure.append(element('span', 'value', value), element('span', 'label', label));
    return figure;
  }));
}

export function renderWorkers(parent: HTMLElement, data: Data, totals: Totals, hidden: readonly number[], theme: Theme, toggle: (slot: number) => void): void {
  const workers = data.server?.workers ?? [];
  const slots = [...new Set([...workers.map((w) => w.slot), ...totals.bySlot.keys()])].sort((a, b) => a - b);
  const key = JSON.stringify([theme.kind, hidden, slots.map((slot) => [slot, workers.find((w) => w.slot === slot), totals.bySlot.get(slot)])]);
  replaceIfChanged(parent, key, () => slots.map((slot) => {
    const worker = workers.find((w) => w.slot === slot);
    const chip = element('button', 'chip');
    chip.dataset.slot = String(slot);
    chip.setAttribute('aria-pressed', String(!hidden.includes(slot)));
    chip.title = hidden.includes(slot) ? t('Show worker {0}', slot) : t('Hide worker {0}', slot);
    const swatch = element('span', 'swatch');
    swatch.style.backgroundColor = theme.worker(slot);
    const state = worker ? (worker.state === 'ready' ? `pid ${worker.pid}` : `pid ${worker.pid} · ${worker.state}`) : t('gone');
    chip.append(swatch, element('span', 'name', t('worker {0}', slot)), element('span', 'pid', state), element('span', 'requests', String(totals.bySlot.get(slot) ?? 0)));
    chip.addEventListener('click', () => toggle(slot));
    return chip;
  }));
}

function actions(slot: number, onRow: OnRow): HTMLElement {
  const cell = element('td', 'actions');
  for (const [action, label, title] of [
    ['showLogs', t('Logs'), t('Open the channel of worker {0}', slot)],
    ['showStack', t('Stack'), t('Show the stack of worker {0}', slot)],
    ['debugWorker', t('Debug'), t('Debug worker {0}', slot)],
  ] as Array<[RowAction, string, string]>) {
    const button = element('button', 'row-action', label);
    button.title = title;
    button.dataset.action = action;
    button.addEventListener('click', () => onRow(action, slot));
    cell.append(button);
  }
  return cell;
}

function table(headers: string[], rows: HTMLTableRowElement[], empty: string): Node[] {
  if (rows.length === 0) return [element('p', 'empty', empty)];
  const head = element('tr');
  for (const header of headers) head.append(element('th', undefined, header));
  const node = element('table');
  node.append(element('thead'), element('tbody'));
  node.tHead!.append(head);
  node.tBodies[0].append(...rows);
  return [node];
}

export function renderInFlight(parent: HTMLElement, rows: InFlightView[], onRow: OnRow): void {
  const key = JSON.stringify(rows.map((r) => [r.slot, r.pid, r.method, r.path, Math.floor(r.ageMs / 100)]));
  replaceIfChanged(parent, key, () => table([t('Worker'), t('Method'), t('Path'), t('Age'), ''], rows.map((r) => {
    const row = element('tr');
    row.dataset.slot = String(r.slot);
    row.append(element('td', 'worker', String(r.slot)), element('td', 'method', r.method), element('td', 'path', r.path), element('td', 'age number', formatDuration(r.ageMs)), actions(r.slot, onRow));
    return row;
  }), t('No request in flight.')));
}

export function renderSlowest(parent: HTMLElement, rows: SlowData[], onRow: OnRow): void {
  replaceIfChanged(parent, JSON.stringify(rows.map((r) => r.seq)), () => table([t('Worker'), t('Method'), t('Path'), t('Status'), 'ms', ''], rows.map((r) => {
    const row = element('tr');
    row.dataset.slot = String(r.slot);
    row.title = new Date(r.at).toLocaleTimeString();
    row.append(
      element('td', 'worker', String(r.slot)), element('td', 'method', r.method), element('td', 'path', r.path),
      element('td', `status number${r.status >= 500 ? ' error' : r.status >= 400 ? ' warning' : ''}`, String(r.status)),
      element('td', 'ms number', r.ms.toFixed(r.ms < 10 ? 1 : 0)), actions(r.slot, onRow),
    );
    return row;
  }), t('No request ended in this window yet.')));
}

export function renderEvents(parent: HTMLElement, markers: Marker[], color: (kind: Marker['kind']) => string): void {
  replaceIfChanged(parent, JSON.stringify([markers.map((m) => [m.x, m.text]), color('exit')]), () => {
    if (markers.length === 0) return [element('p', 'empty', t('Nothing happened in this window.'))];
    const list = element('ol', 'events');
    for (const marker of [...markers].reverse()) {
      const item = element('li');
      item.dataset.kind = marker.kind;
      const label = element('span', 'marker', marker.label);
      label.style.color = color(marker.kind);
      item.append(element('time', undefined, new Date(marker.x * 1000).toLocaleTimeString()), label, element('span', 'text', marker.text));
      list.append(item);
    }
    return [list];
  });
}
