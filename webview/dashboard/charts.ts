/**
 * The dashboard's six charts (uPlot): requests per second (each worker and the total), latency p50 / p99, 4xx and 5xx
 * per second, the busy strip (a row per worker, shaded by its requests in flight), CPU % and memory. They share one
 * time cursor (hover shows every worker's value at that moment in each legend) and draw the markers of what happened.
 * A chart is built again only when its lines change (the workers, the hidden ones, the theme); else its data is set.
 */
import uPlot from 'uplot';
import { markersPlugin } from './markers';
import { t } from './strings';
import type { Theme } from './theme';
import type { Marker, Series, Values } from './view';

const HEIGHT = 170;
const SYNC_KEY = 'server-workers-dashboard';

interface Line {
  label: string;
  color: string;
  values: Values;
  slot?: number;
  width?: number;
  dash?: number[];
  format?: (value: number) => string;
}

interface ChartSpec {
  id: string;
  title: () => string;
  lines(series: Series, theme: Theme): Line[];
  busy?: boolean;
}

const fixed = (digits: number) => (value: number) => value.toFixed(digits);

const SPECS: ChartSpec[] = [
  {
    id: 'requests',
    title: () => t('Requests per second'),
    lines: (s, theme) => [
      ...s.slots.map((slot, i) => ({ label: t('worker {0}', slot), slot, color: theme.worker(slot), values: s.requestsPerSecond[i], format: fixed(1) })),
      { label: t('total'), color: theme.total, values: s.totalPerSecond, width: 2, format: fixed(1) },
    ],
  },
  {
    id: 'latency',
    title: () => t('Latency p50 (dashed) and p99, ms'),
    lines: (s, theme) => s.slots.flatMap((slot, i) => [
      { label: t('{0} p50', slot), slot, color: theme.worker(slot), values: s.p50Ms[i], dash: [4, 3], format: fixed(1) },
      { label: t('{0} p99', slot), slot, color: theme.worker(slot), values: s.p99Ms[i], format: fixed(1) },
    ]),
  },
  {
    id: 'errors',
    title: () => t('4xx and 5xx per second'),
    lines: (s, theme) => [
      { label: '4xx', color: theme.yellow, values: s.status4xxPerSecond, format: fixed(1) },
      { label: '5xx', color: theme.red, values: s.status5xxPerSecond, width: 2, format: fixed(1) },
    ],
  },
  {
    id: 'busy',
    title: () => t('Busy: requests in flight per worker'),
    busy: true,
    lines: (s, theme) => s.slots.map((slot, i) => ({ label: t('worker {0}', slot), slot, color: theme.worker(slot), values: s.inFlight[i], format: fixed(0) })),
  },
  {
    id: 'cpu',
    title: () => t('CPU %'),
    lines: (s, theme) => s.slots.map((slot, i) => ({ label: t('worker {0}', slot), slot, color: theme.worker(slot), values: s.cpuPercent[i], format: fixed(1) })),
  },
  {
    id: 'memory',
    title: () => t('Resident memory, MB'),
    lines: (s, theme) => s.slots.map((slot, i) => ({ label: t('worker {0}', slot), slot, color: theme.worker(slot), values: s.rssMb[i], format: fixed(1) })),
  },
];

export class Charts {
  private readonly plots = new Map<string, { plot: uPlot; layout: string; box: HTMLElement }>();
  private range: [number, number] = [0, 1];
  private markers: readonly Marker[] = [];

  constructor(private readonly container: HTMLElement, private theme: () => Theme) {
    for (const spec of SPECS) {
      const box = document.createElement('section');
      box.className = 'chart';
      box.dataset.chart = spec.id;
      const title = document.createElement('h2');
      title.textContent = spec.title();
      box.append(title);
      container.append(box);
    }
    new ResizeObserver(() => this.resize()).observe(container);
  }

  /** Draws `series` (hidden slots left out) with `markers`; `rebuild` after a theme change. */
  update(series: Series, hidden: readonly number[], markers: readonly Marker[], rebuild = false): void {
    this.range = series.range;
    this.markers = markers;
    const theme = this.theme();
    for (const spec of SPECS) {
      const box = this.container.querySelector<HTMLElement>(`[data-chart="${spec.id}"]`)!;
      const lines = spec.lines(series, theme);
      const layout = `${theme.kind}|${lines.map((l) => `${l.label}:${hidden.includes(l.slot ?? -1) ? 0 : 1}`).join(',')}`;
      const data = [series.x, ...lines.map((l) => l.values)] as uPlot.AlignedData;
      const known = this.plots.get(spec.id);
      if (known && known.layout === layout && !rebuild) {
        known.plot.setData(data);
        showLatest(known.plot);
        continue;
      }
      known?.plot.destroy();
      const plot = new uPlot(this.options(spec, lines, hidden, box, series.slots.length), data, box);
      showLatest(plot);
      this.plots.set(spec.id, { plot, layout, box });
    }
  }

  private options(spec: ChartSpec, lines: Line[], hidden: readonly number[], box: HTMLElement, rows: number): uPlot.Options {
    const theme = this.theme();
    const axis = { stroke: theme.muted, font: theme.font, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 } };
    const busy = spec.busy === true;
    return {
      width: Math.max(240, box.clientWidth - 2),
      height: busy ? Math.max(HEIGHT, 36 + rows * 16) : HEIGHT,
      cursor: { sync: { key: SYNC_KEY }, points: { show: !busy } },
      legend: { show: true, live: true },
      scales: {
        x: { time: true, range: () => this.range },
        y: busy ? { range: [0, Math.max(1, rows)] } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { ...axis, space: 80, values: timeLabels },
        busy ? { ...axis, size: 48, splits: () => lines.map((_, r) => rows - r - 0.5), values: () => lines.map((l) => `w${l.slot}`) } : { ...axis, size: 48 },
      ],
      series: [
        { value: (_u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
        ...lines.map((line): uPlot.Series => ({
          label: line.label,
          stroke: line.color,
          width: line.width ?? 1.25,
          dash: line.dash,
          show: !hidden.includes(line.slot ?? -1),
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => (v === null || v === undefined ? '–' : (line.format ?? String)(v)),
          ...(busy ? { paths: () => null } : {}),
        })),
      ],
      hooks: { setCursor: [(u) => showLatest(u)] },
      plugins: [markersPlugin(() => this.markers, this.theme), ...(busy ? [busyStrip(lines, hidden, this.theme)] : [])],
    };
  }

  private resize(): void {
    for (const { plot, box } of this.plots.values()) {
      const width = Math.max(240, box.clientWidth - 2);
      if (Math.abs(width - plot.width) > 1) plot.setSize({ width, height: plot.height });
    }
  }
}

/** The time axis's labels: the time of day alone (no date line), with seconds when the ticks are seconds apart. */
function timeLabels(_u: uPlot, splits: number[], _axis: number, _space: number, increment: number): string[] {
  const options: Intl.DateTimeFormatOptions = increment < 60 ? { hour: 'numeric', minute: '2-digit', second: '2-digit' } : { hour: 'numeric', minute: '2-digit' };
  return splits.map((seconds) => new Date(seconds * 1000).toLocaleTimeString([], options));
}

/** Away from the cursor, the legend says the newest second's values (not dashes). */
function showLatest(plot: uPlot): void {
  const last = plot.data[0].length - 1;
  if (plot.cursor.idx === null || plot.cursor.idx === undefined) {
    if (last >= 0) plot.setLegend({ idx: last }, false);
  }
}

/** The busy strip: row r is slot lines[r], each second shaded by its requests in flight (the darker, the more). */
function busyStrip(lines: Line[], hidden: readonly number[], theme: () => Theme): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const x = u.data[0];
          const rows = lines.length;
          let most = 1;
          for (let r = 0; r < rows; r++) for (const v of u.data[r + 1]) if (typeof v === 'number' && v > most) most = v;
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          ctx.fillStyle = theme().orange;
          for (let r = 0; r < rows; r++) {
            if (hidden.includes(lines[r].slot ?? -1)) continue;
            const top = u.valToPos(rows - r, 'y', true);
            const bottom = u.valToPos(rows - r - 1, 'y', true);
            const values = u.data[r + 1];
            for (let i = 0; i < x.length; i++) {
              const v = values[i];
              if (typeof v !== 'number' || v <= 0) continue;
              const left = u.valToPos(i > 0 ? x[i - 1] : x[i] - 1, 'x', true);
              const right = u.valToPos(x[i], 'x', true);
              ctx.globalAlpha = 0.25 + 0.75 * Math.min(1, v / most);
              ctx.fillRect(left, top + 1, Math.max(1, right - left), Math.max(1, bottom - top - 2));
            }
          }
          ctx.restore();
        },
      ],
    },
  };
}
