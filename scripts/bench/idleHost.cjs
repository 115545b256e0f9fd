// Section 6's idle-host figure: the extension host's CPU with a server of many idle workers. In a fresh Node process
// (host.cjs: the `vscode` stub, whose tree view renders on each change as VS Code's does), the bundle (argv[2], else
// dist/extension.js) is activated, a server is started through its task provider, and once every worker is ready the
// process's CPU time is measured while nothing happens but the stats tick. Prints one JSON line.
// argv: bundle workers seconds python cwd app port
'use strict';
const { performance } = require('node:perf_hooks');
const path = require('node:path');
const { bundlePath, extensionContext, runHost, startServerTask, vscode } = require('./host.cjs');

const [, , , workersArg, secondsArg, python, cwd, app, port] = process.argv;
const workers = Number(workersArg);
const seconds = Number(secondsArg);

async function main() {
  // The bundle's own package: its python/ agent and its manifest (a baseline bundle is another checkout's dist/).
  const api = require(bundlePath()).activate(extensionContext(path.resolve(path.dirname(bundlePath()), '..')));
  const terminal = await startServerTask(api, { name: 'idle-host', app, workers, cwd, python, port });
  await new Promise((resolve) => setTimeout(resolve, 2000)); // the first samples and renders settle
  const rendered0 = vscode.bench.treeItemsRendered;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const elapsedS = (performance.now() - t0) / 1000;
  const result = {
    workers,
    seconds: elapsedS,
    percentOfCore: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
    treeItemsPerSecond: (vscode.bench.treeItemsRendered - rendered0) / elapsedS,
  };
  return { api, terminal, result };
}

runHost(main);
