/**
 * Colors for the canvas charts, read from VS Code's theme variables (--vscode-*), so they are right in dark, light
 * and high-contrast themes; read again when the theme changes (the body's class: vscode-dark, vscode-light,
 * vscode-high-contrast, vscode-high-contrast-light).
 */
export interface Theme {
  kind: 'dark' | 'light' | 'high-contrast' | 'high-contrast-light';
  foreground: string;
  muted: string;
  grid: string;
  font: string;
  total: string;
  red: string;
  orange: string;
  yellow: string;
  green: string;
  blue: string;
  purple: string;
  /** One color per worker slot. */
  worker(slot: number): string;
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.body);
  const css = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const classes = document.body.classList;
  const kind: Theme['kind'] = classes.contains('vscode-high-contrast-light') ? 'high-contrast-light'
    : classes.contains('vscode-high-contrast') ? 'high-contrast'
      : classes.contains('vscode-light') ? 'light' : 'dark';
  const dark = kind === 'dark' || kind === 'high-contrast';
  const foreground = css('--vscode-foreground', dark ? '#cccccc' : '#3b3b3b');
  const palette = {
    red: css('--vscode-charts-red', '#f14c4c'),
    orange: css('--vscode-charts-orange', '#d18616'),
    yellow: css('--vscode-charts-yellow', '#cca700'),
    green: css('--vscode-charts-green', '#89d185'),
    blue: css('--vscode-charts-blue', '#3794ff'),
    purple: css('--vscode-charts-purple', '#b180d7'),
  };
  // The theme's six chart colors first, then hues spread around the wheel, lighter on dark backgrounds.
  const lightness = kind === 'high-contrast' ? 72 : kind === 'high-contrast-light' ? 30 : dark ? 62 : 42;
  const base = [palette.blue, palette.orange, palette.green, palette.purple, palette.yellow, palette.red];
  return {
    kind,
    foreground,
    muted: css('--vscode-descriptionForeground', foreground),
    grid: css('--vscode-editorWidget-border', dark ? 'rgba(128,128,128,0.35)' : 'rgba(0,0,0,0.15)'),
    font: `${css('--vscode-font-size', '12px')} ${css('--vscode-font-family', 'sans-serif')}`,
    total: foreground,
    ...palette,
    worker: (slot) => (slot >= 1 && slot <= base.length ? base[slot - 1] : `hsl(${Math.round((slot * 137.508) % 360)}, 62%, ${lightness}%)`),
  };
}

/** Calls `changed` when the theme changes. */
export function watchTheme(changed: () => void): void {
  new MutationObserver(changed).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
