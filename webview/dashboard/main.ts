/**
 * The dashboard page: it asks the host for the history when it loads (`ready`), folds every message into its state
 * (reducer.ts) and draws the state: header, figures, worker chips, charts, tables, events. The window (1, 5, 15 min),
 * pause and the hidden workers are the person's; they survive a window reload (vscode.setState).
 */
import './dashboard.css';
import { Charts } from './charts';
import { markerColor } from './markers';
import { type HostMessage, type PageMessage, parsePageState, type RowAction } from './protocol';
import { type Action, initialState, pageState, reduce, shown, WINDOWS } from './reducer';
import { loadStrings, t } from './strings';
import { renderEvents, renderInFlight, renderSlowest, renderSummary, renderWorkers } from './tables';
import { readTheme, type Theme, watchTheme } from './theme';
import { inFlightRows, latestPoints, markersOf, seriesOf, slowestRows, totalsOf } from './view';

interface VsCodeApi {
  postMessage(message: PageMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
loadStrings(document.getElementById('strings')?.textContent);
let state = initialState(parsePageState(vscode.getState()) ?? parsePageState(JSON.parse(document.body.dataset.state ?? 'null')));
let theme: Theme = readTheme();
let themeChanged = false;
let frame = 0;

const root = document.getElementById('dashboard')!;
root.innerHTML = `
  <header>
    <div class="title"><h1 id="server-name"></h1><span id="server-state" class="badge"></span><span id="server-url" class="muted"></span></div>
    <div class="controls">
      <div class="segmented" role="group" id="windows"></div>
      <button id="pause" class="toggle" aria-pressed="false"></button>
    </div>
  </header>
  <p id="notice" class="notice" hidden></p>
  <div id="summary" class="summary"></div>
  <div id="workers" class="workers"></div>
  <div id="charts" class="charts"></div>
  <div class="tables">
    <section><h2 id="in-flight-title"></h2><div id="in-flight"></div></section>
    <section><h2 id="slowest-title"></h2><div id="slowest"></div></section>
  </div>
  <section class="events-section"><h2 id="events-title"></h2><div id="events"></div></section>`;
const byId = (id: string) => document.getElementById(id)!;
byId('in-flight-title').textContent = t('Requests in flight, oldest first');
byId('slowest-title').textContent = t('Slowest recent requests');
byId('events-title').textContent = t('What happened');
for (const minutes of WINDOWS) {
  const button = document.createElement('button');
  button.dataset.minutes = String(minutes);
  button.textContent = t('{0} min', minutes);
  button.addEventListener('click', () => dispatch({ type: 'window', minutes }));
  byId('windows').append(button);
}
byId('pause').addEventListener('click', () => dispatch({ type: state.frozen ? 'resume' : 'pause' }));
const charts = new Charts(byId('charts'), () => theme);

watchTheme(() => {
  theme = readTheme();
  themeChanged = true;
  schedule();
});

window.addEventListener('message', (event: MessageEvent<HostMessage>) => {
  const message = event.data;
  if (message && (message.type === 'reset' || message.type === 'append')) dispatch(message);
});

function dispatch(action: Action): void {
  const before = pageState(state);
  state = reduce(state, action);
  const after = pageState(state);
  if (after && JSON.stringify(after) !== JSON.stringify(before)) vscode.setState(after);
  schedule();
}

function schedule(): void {
  if (frame === 0) frame = requestAnimationFrame(render);
}

const row = (action: RowAction, slot: number) => vscode.postMessage({ type: 'row', action, slot });

function render(): void {
  frame = 0;
  const data = shown(state);
  const server = data.server;
  const paused = state.frozen !== undefined;
  byId('server-name').textContent = server?.name ?? state.serverName ?? t('Server Workers');
  byId('server-state').textContent = server ? server.state : t('waiting');
  byId('server-state').dataset.state = server?.state ?? 'waiting';
  byId('server-url').textContent = server?.url ?? '';
  for (const button of byId('windows').querySelectorAll<HTMLButtonElement>('button')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.minutes) === state.windowMinutes));
  }
  const pause = byId('pause');
  pause.textContent = paused ? t('Resume') : t('Pause');
  pause.setAttribute('aria-pressed', String(paused));
  root.classList.toggle('paused', paused);
  renderNotice(server?.state, server?.insightOff === true, server?.error);

  const minutes = state.windowMinutes;
  const series = seriesOf(data, minutes);
  const markers = markersOf(data, minutes);
  const totals = totalsOf(data, minutes);
  const latest = [...latestPoints(data).values()];
  const p99s = latest.map((p) => p.p99Ms).filter((v) => !Number.isNaN(v));
  renderSummary(byId('summary'), totals, data, minutes, series.totalPerSecond.at(-1) ?? null, p99s.length ? Math.max(...p99s) : null);
  renderWorkers(byId('workers'), data, totals, state.hidden, theme, (slot) => dispatch({ type: 'toggleWorker', slot }));
  charts.update(series, state.hidden, markers, themeChanged);
  themeChanged = false;
  byId('charts').dataset.points = JSON.stringify(Object.fromEntries(series.slots.map((slot, i) => [slot, series.requestsPerSecond[i].filter((v) => v !== null).length])));
  renderInFlight(byId('in-flight'), inFlightRows(data), row);
  renderSlowest(byId('slowest'), slowestRows(data, minutes), row);
  renderEvents(byId('events'), markers, (kind) => markerColor(kind, theme));
}

function renderNotice(serverState: string | undefined, insightOff: boolean, error: string | undefined): void {
  const notice = byId('notice');
  const stopped = serverState !== undefined && serverState !== 'running' && serverState !== 'scaling' && serverState !== 'reloading';
  const text = stopped
    ? (error ? t('The server is {0}: {1}', serverState, error) : t('The server is {0}. The dashboard goes on when it runs again.', serverState))
    : insightOff ? t('Request insight is off for this server: only CPU and memory are charted.') : '';
  notice.hidden = text === '';
  notice.textContent = text;
}

// What the serializer gets back after a window reload: which server, from the first moment on.
const saved = pageState(state);
if (saved) vscode.setState(saved);
render();
vscode.postMessage({ type: 'ready' });
