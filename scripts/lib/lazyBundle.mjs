// Lazily loaded modules in a CommonJS bundle (docs/architecture.md, "Lazily loaded modules"): every `import('./x')`
// in the code is a split point; what only such imports reach goes into files of its own (`lazy/` beside the bundle),
// required on first use; what the entry needs at load is one file. esbuild splits code for ES modules only, so:
//   1. an ES module build with splitting, in memory (source maps inline): the entry and its chunks;
//   2. the chunks the entry imports (the load's) merged into the entry's file, which exports them as `__chunks`;
//      every other chunk converted to CommonJS on its own: its imports of another lazy file kept as `require()`, of a
//      chunk of the load's read from the entry's `__chunks`, and `import()` made a `require()` on first use.
// A module is in exactly one chunk, so a class or a module's state exists once (`instanceof` holds across files).
// Pass 1's source maps are carried through to each file's own.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * `import * as vscode from 'vscode'` of an external CommonJS module costs, at load, a copy of every property of the
 * module per importing file (esbuild's __toESM: 31 files × 200 names for `vscode`, most of the load time). Such a
 * module is imported through one ES module that re-exports its names instead: each file's `vscode.window` is then a
 * property read of one `require('vscode')`. The names: the API's top-level declarations (@types/vscode), a Node
 * built-in's own keys.
 */
export function namespaceImports(modules) {
  const names = (name) => {
    if (name !== 'vscode') return Object.keys(require(name)).filter((key) => key !== 'default' && /^[A-Za-z_$][\w$]*$/.test(key));
    const declarations = fs.readFileSync(require.resolve('@types/vscode/index.d.ts'), 'utf8');
    return [...new Set([...declarations.matchAll(/^\texport (?:namespace|class|enum|const|let|function) (\w+)/gm)].map((m) => m[1]))];
  };
  return {
    name: 'namespace-imports',
    setup(b) {
      const filter = new RegExp(`^(${modules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`);
      b.onResolve({ filter }, (args) => (args.namespace === 'namespace-imports'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'namespace-imports' }));
      b.onLoad({ filter: /.*/, namespace: 'namespace-imports' }, (args) => ({
        contents: `export { ${names(args.path).join(', ')} } from '${args.path}';`,
        loader: 'js',
      }));
    },
  };
}

/** How the file `from` requires the file `to`. */
function relativeRequire(from, to) {
  const relative = path.relative(path.dirname(from), to);
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/** A pass-1 file's inline source map, its paths made relative to `outDir` (where pass 2 writes the file it goes into). */
function sourcesRelativeTo(outDir, file, text) {
  const marker = '//# sourceMappingURL=data:application/json;base64,';
  const at = text.lastIndexOf(marker);
  if (at === -1) return text;
  const map = JSON.parse(Buffer.from(text.slice(at + marker.length).trim(), 'base64').toString('utf8'));
  map.sources = map.sources.map((source) => path.relative(outDir, path.resolve(path.dirname(file), source)));
  return `${text.slice(0, at)}${marker}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

/**
 * Pass 2 reads pass 1's files from memory: those of `inline` go into the file being built, those of `shared` come from
 * the entry's `__chunks`, any other is another lazy file (required); bare names (vscode, node:*, ...) stay external.
 */
function passOneFiles(files, { inline, shared, entryFile, chunkKey }) {
  return {
    name: 'pass-one-files',
    setup(b) {
      const outfile = b.initialOptions.outfile;
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return { path: args.path, namespace: 'pass-one' };
        if (args.namespace === 'shared-chunk' || !args.path.startsWith('.')) return { path: args.path, external: true };
        const file = path.resolve(args.resolveDir, args.path);
        if (inline.has(file)) return { path: file, namespace: 'pass-one' };
        if (shared.has(file)) return { path: file, namespace: 'shared-chunk' };
        return { path: relativeRequire(outfile, file), external: true };
      });
      b.onLoad({ filter: /.*/, namespace: 'pass-one' }, (args) => ({
        contents: sourcesRelativeTo(path.dirname(outfile), args.path, files.get(args.path)),
        loader: 'js',
        resolveDir: path.dirname(args.path),
      }));
      b.onLoad({ filter: /.*/, namespace: 'shared-chunk' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(relativeRequire(outfile, entryFile))}).__chunks[${JSON.stringify(chunkKey(args.path))}];`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Builds `entry` to `outfile` (CommonJS) and its lazily loaded files to `lazy/` beside it (emptied first). `options`:
 * esbuild's (external, plugins, minify, keepNames, ...). Returns pass 1's metafile, with `atLoad`: the chunks merged
 * into `outfile` (paths relative to its folder).
 */
export async function buildWithLazyModules({ entry, outfile, ...options }) {
  const outdir = path.dirname(path.resolve(outfile));
  const entryFile = path.join(outdir, `${path.basename(outfile, '.js')}.js`);
  const chunkKey = (file) => path.relative(outdir, file);
  const split = await build({
    ...options,
    minify: false, // pass 2 minifies (as `options` say)
    minifyWhitespace: false,
    minifyIdentifiers: false,
    minifySyntax: false,
    bundle: true,
    entryPoints: { [path.basename(outfile, '.js')]: entry },
    format: 'esm',
    splitting: true,
    outdir,
    chunkNames: 'lazy/[name]-[hash]',
    sourcemap: 'inline',
    write: false,
    metafile: true,
  });
  const files = new Map(split.outputFiles.map((file) => [file.path, file.text]));
  const outputs = new Map(Object.entries(split.metafile.outputs).map(([file, output]) => [path.resolve(file), output]));
  const atLoad = new Set([entryFile]);
  for (const file of atLoad) {
    for (const { path: imported, kind, external } of outputs.get(file).imports) if (kind === 'import-statement' && !external) atLoad.add(path.resolve(imported));
  }
  const chunks = [...atLoad].filter((file) => file !== entryFile);
  const pass2 = {
    ...options,
    plugins: [],
    keepNames: false, // pass 1 wrote the names down already, if it was asked to
    bundle: true,
    format: 'cjs',
    sourcemap: true,
    allowOverwrite: true, // pass 2's input has its output's name (it exists only in memory)
    supported: { 'dynamic-import': false }, // `import()` becomes require() on first use
  };
  fs.rmSync(path.join(outdir, 'lazy'), { recursive: true, force: true });
  const loadEntry = [
    `export * from ${JSON.stringify(`./${chunkKey(entryFile)}`)};`,
    ...chunks.map((file, i) => `import * as chunk${i} from ${JSON.stringify(`./${chunkKey(file)}`)};`),
    `export const __chunks = { ${chunks.map((file, i) => `${JSON.stringify(chunkKey(file))}: chunk${i}`).join(', ')} };`,
  ].join('\n');
  const context = { entryFile, chunkKey, shared: new Set(chunks) };
  await Promise.all([
    build({
      ...pass2,
      stdin: { contents: loadEntry, sourcefile: `${path.basename(entryFile)} (its chunks)`, resolveDir: outdir, loader: 'js' },
      outfile: entryFile,
      plugins: [passOneFiles(files, { ...context, inline: atLoad })],
    }),
    ...[...files.keys()].filter((file) => !atLoad.has(file)).map((file) => build({
      ...pass2,
      entryPoints: [file],
      outfile: file,
      plugins: [passOneFiles(files, { ...context, inline: new Set([file]) })],
    })),
  ]);
  return { ...split.metafile, atLoad: [...atLoad].map(chunkKey) };
}
