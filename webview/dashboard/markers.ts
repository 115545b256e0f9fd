/** A uPlot plugin: a vertical line on the chart for each marker (what happened), with its short label on top. */
import type uPlot from 'uplot';
import type { Theme } from './theme';
import type { Marker } from './view';

export function markerColor(kind: Marker['kind'], theme: Theme): string {
  switch (kind) {
    case 'exit':
    case 'reload-failed':
      return theme.red;
    case 'replaced':
      return theme.orange;
    case 'reload':
      return theme.green;
    case 'scale':
      return theme.purple;
    default:
      return theme.muted;
  }
}

export function markersPlugin(markers: () => readonly Marker[], theme: () => Theme): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { top, height } = u.bbox;
          const ratio = devicePixelRatio || 1;
          ctx.save();
          ctx.font = `${Math.round(10 * ratio)}px ${getComputedStyle(document.body).fontFamily}`;
          ctx.textAlign = 'center';
          ctx.textBaseline = 'top';
          // Labels of markers close together stack downwards instead of covering each other.
          let lastX = -Infinity;
          let row = 0;
          for (const marker of markers()) {
            const x = Math.round(u.valToPos(marker.x, 'x', true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            row = x - lastX < 22 * ratio ? row + 1 : 0;
            lastX = x;
            const color = markerColor(marker.kind, theme());
            ctx.strokeStyle = color;
            ctx.lineWidth = ratio;
            ctx.setLineDash(marker.kind === 'state' ? [2 * ratio, 3 * ratio] : [4 * ratio, 2 * ratio]);
            ctx.beginPath();
            ctx.moveTo(x + 0.5, top);
            ctx.lineTo(x + 0.5, top + height);
            ctx.stroke();
            ctx.fillStyle = color;
            ctx.fillText(marker.label, x, top + (2 + row * 11) * ratio);
          }
          ctx.restore();
        },
      ],
    },
  };
}
