// Section 6's idle-host figure: the extension host's CPU with a server of many idle workers. In a fresh Node process
// (host.cjs: the `vscode` stub, whose tree view renders on each change as VS Code's does), the bundle (argv[2], else
// dist/extension.js) is activated, a server is started through its task provider, and once every worker is ready the
// process's CPU time is measured while nothing happens but the stats tick: one window at once (the workers' first
// minute), then `windows` windows from `settle` seconds after the last was ready. Prints one JSON line.
// argv: bundle workers seconds python cwd app port settle windows
'use strict';
const { performance } = require('node:perf_hooks');
const path = require('node:path');
const { bundlePath, extensionContext, runHost, startServerTask, vscode } = require('./host.cjs');

const [, , , workersArg, secondsArg, python, cwd, app, port, settleArg = '0', windowsArg = '1'] = process.argv;
const workers = Number(workersArg);
const seconds = Number(secondsArg);
const settleSeconds = Number(settleArg);
const windows = Number(windowsArg);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** This process's CPU over `seconds`, and the tree items the stub's view rendered meanwhile. */
async function measure() {
  const rendered0 = vscode.bench.treeItemsRendered;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const elapsedS = (performance.now() - t0) / 1000;
  return { seconds: elapsedS, percentOfCore: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100, treeItemsPerSecond: (vscode.bench.treeItemsRendered - rendered0) / elapsedS };
}

async function main() {
  // The bundle's own package: its python/ agent and its manifest (a baseline bundle is another checkout's dist/).
  const api = require(bundlePath()).activate(extensionContext(path.resolve(path.dirname(bundlePath()), '..')));
  const terminal = await startServerTask(api, { name: 'idle-host', app, workers, cwd, python, port });
  const readyAt = Date.now();
  await sleep(2000); // the first samples and renders settle
  const firstMinute = await measure();
  const steady = [];
  await sleep(Math.max(0, readyAt + settleSeconds * 1000 - Date.now()));
  for (let i = 0; i < windows; i++) steady.push(await measure());
  return { api, terminal, result: { workers, firstMinute, steady } };
}

runHost(main);
