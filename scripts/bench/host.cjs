// A plain-Node stand-in for VS Code's extension host, for the benchmark: `vscode` resolves to
// scripts/bench/vscode-stub.cjs, and an extension bundle is loaded and activated with a stub context.
'use strict';
const Module = require('node:module');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..', '..');
const stubPath = path.join(__dirname, 'vscode-stub.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? stubPath : resolve.call(this, request, ...rest);
};
const vscode = require(stubPath);

const memento = { get: (_key, fallback) => fallback, update: async () => undefined, keys: () => [], setKeysForSync() {} };

/** What the extension reads of its context (its folder: the bundle's package, `extensionRoot`); the rest is an inert stub. */
function extensionContext(extensionRoot = repoRoot) {
  const root = extensionRoot;
  const packageJSON = JSON.parse(require('node:fs').readFileSync(path.join(root, 'package.json'), 'utf8'));
  return vscode.stubObject({
    subscriptions: [],
    extension: { id: `${packageJSON.publisher}.${packageJSON.name}`, packageJSON, extensionPath: root, extensionUri: { fsPath: root, scheme: 'file', path: root } },
    extensionPath: root,
    extensionUri: { fsPath: root, scheme: 'file', path: root },
    globalState: memento,
    workspaceState: memento,
    storagePath: undefined,
    globalStoragePath: path.join(repoRoot, 'out', 'bench', 'global-storage'),
    logPath: path.join(repoRoot, 'out', 'bench', 'log'),
    extensionMode: 1,
    asAbsolutePath: (relative) => path.join(root, relative),
    environmentVariableCollection: { replace() {}, append() {}, prepend() {}, get() {}, forEach() {}, delete() {}, clear() {} },
  }, 'context');
}

/** The bundle to load: argv[2], else dist/extension.js. */
function bundlePath() {
  return path.resolve(process.argv[2] ?? path.join(repoRoot, 'dist', 'extension.js'));
}

module.exports = { vscode, repoRoot, extensionContext, bundlePath };
