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

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts a server through the extension's task provider (as VS Code runs a task); resolves with its terminal once every worker is ready. */
async function startServerTask(api, { name, app, workers, cwd, python, port }) {
  const provider = vscode.bench.taskProviders.get('serverworkers');
  if (!provider) throw new Error('the extension registered no serverworkers task provider');
  const definition = { type: 'serverworkers', app, workers, cwd, python, bind: `127.0.0.1:${port}`, gracefulTimeout: 3 };
  const task = provider.resolveTask({ definition, scope: undefined, name });
  const terminal = await task.execution.callback(task.definition);
  terminal.onDidWrite(() => undefined);
  terminal.open();
  const ready = () => api.servers()[0]?.state === 'running' && api.servers()[0].workers.filter((w) => w.state === 'ready').length === workers;
  await waitFor(`${workers} workers to be ready`, ready, 120000);
  return terminal;
}

/** Runs `main`; it stops the server (closing its terminal), prints its result as one JSON line and exits. */
function runHost(main) {
  process.on('unhandledRejection', () => undefined); // stubs may make the extension's background work fail
  main()
    .then(async ({ api, terminal, result }) => {
      terminal.close();
      await waitFor('the server to stop', () => api.servers().length === 0 || api.servers()[0].state === 'stopped', 30000);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`${error.stack ?? error}\n`);
      process.exit(1);
    });
}

module.exports = { vscode, repoRoot, extensionContext, bundlePath, waitFor, startServerTask, runHost };
