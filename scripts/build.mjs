// Bundles the extension and the CLI with esbuild; `vscode` stays external (the host provides it). Minified, as they
// ship (with source maps, and the names of functions and classes kept for stack traces).
import { build } from 'esbuild';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: true,
  keepNames: true,
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  // The dashboard's page (webview/dashboard/), for the webview: uPlot and the styles bundled in (dashboard.js, .css).
  build({ ...common, platform: 'browser', target: 'es2022', format: 'iife', keepNames: false, entryPoints: { dashboard: 'webview/dashboard/main.ts' }, outdir: 'dist/webview' }),
]);
if (watch) console.log('watch mode is not supported; run npm run build again');
