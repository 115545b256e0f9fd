// The plain-Node approximation of the extension's activation time (scripts/bench.mjs, section "extension"):
// in a fresh Node process, require(dist/extension.js) with scripts/bench/vscode-stub.cjs as `vscode`, then call
// activate() with a stub context (argv[2]: another bundle to load instead). Prints {"loadMs", "activateMs"} as one JSON line. The real figure comes from
// VS Code itself (test/e2e/activation.test.ts); this one leaves out VS Code's own work (the extension host's
// module loader, the API objects behind the stubs).
'use strict';
const Module = require('node:module');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const repoRoot = path.resolve(__dirname, '..', '..');
const stubPath = path.join(__dirname, 'vscode-stub.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? stubPath : resolve.call(this, request, ...rest);
};
// Loaded before the clock starts, as in VS Code's extension host: the API, and the Node built-ins VS Code itself uses.
const vscode = require(stubPath);
for (const builtin of ['child_process', 'crypto', 'fs', 'fs/promises', 'net', 'os', 'path', 'readline', 'util']) require(`node:${builtin}`);
const bundle = path.resolve(process.argv[2] ?? path.join(repoRoot, 'dist', 'extension.js'));

const memento = { get: (_key, fallback) => fallback, update: async () => undefined, keys: () => [], setKeysForSync() {} };
const packageJSON = JSON.parse(require('node:fs').readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
// What the extension reads of its context; anything else it reads is an inert stub.
const context = vscode.stubObject({
  subscriptions: [],
  extension: { id: `${packageJSON.publisher}.${packageJSON.name}`, packageJSON, extensionPath: repoRoot, extensionUri: { fsPath: repoRoot, scheme: 'file', path: repoRoot } },
  extensionPath: repoRoot,
  extensionUri: { fsPath: repoRoot, scheme: 'file', path: repoRoot },
  globalState: memento,
  workspaceState: memento,
  storagePath: undefined,
  globalStoragePath: path.join(repoRoot, 'out', 'bench', 'global-storage'),
  logPath: path.join(repoRoot, 'out', 'bench', 'log'),
  extensionMode: 1,
  asAbsolutePath: (relative) => path.join(repoRoot, relative),
  environmentVariableCollection: { replace() {}, append() {}, prepend() {}, get() {}, forEach() {}, delete() {}, clear() {} },
}, 'context');

process.on('unhandledRejection', () => undefined); // stubs may make the extension's background work fail; not timed

const t0 = performance.now();
const extension = require(bundle);
const t1 = performance.now();
extension.activate(context);
const t2 = performance.now();
process.stdout.write(`${JSON.stringify({ loadMs: t1 - t0, activateMs: t2 - t1 })}\n`);
setTimeout(() => process.exit(0), 50);
