// Bundles the extension and the CLI with esbuild; `vscode` stays external (the host provides it). Minified, as they
// ship, but for the names (with source maps): a stack trace names the function and the class. esbuild's keepNames
// would keep them through renaming at the price of a defineProperty call for each closure made at run time (a tree
// row's, the stats tick's: a third of the tree's CPU per change); not renaming costs 17 KB instead.
//
// The extension loads at activation only what activation needs: dist/extension.js; every `await import('./x')` in its
// code loads the rest from dist/lazy/ on first use (scripts/lib/lazyBundle.mjs; docs/architecture.md, "Lazily loaded
// modules"). The CLI is one file; the dashboard's page another, for the webview.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import { buildWithLazyModules, namespaceImports } from './lib/lazyBundle.mjs';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};
/** Node built-ins the extension imports as namespaces (`import * as fs from 'node:fs'`). */
const NODE_NAMESPACES = ['node:child_process', 'node:crypto', 'node:fs', 'node:fs/promises', 'node:net', 'node:os', 'node:path'];

const [extensionMeta] = await Promise.all([
  buildWithLazyModules({
    ...common,
    entry: 'src/extension/extension.ts',
    outfile: 'dist/extension.js',
    external: ['vscode'],
    plugins: [namespaceImports(['vscode', ...NODE_NAMESPACES])],
  }),
  build({ ...common, format: 'cjs', entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  // The dashboard's page (webview/dashboard/), for the webview: uPlot and the styles bundled in (dashboard.js, .css).
  build({ ...common, minify: true, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: { dashboard: 'webview/dashboard/main.ts' }, outdir: 'dist/webview' }),
]);
// What each file of dist/ holds: the benchmark reports what activation loads (esbuild's analyzer reads it too).
fs.mkdirSync('out', { recursive: true });
fs.writeFileSync('out/extension-meta.json', JSON.stringify(extensionMeta));
if (watch) console.log('watch mode is not supported; run npm run build again');
