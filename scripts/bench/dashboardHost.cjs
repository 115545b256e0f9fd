// The dashboard section's host figure: in a fresh Node process (host.cjs: the `vscode` stub), the bundle is activated,
// a server of many workers is started through its task provider and loaded from another process, and the process's
// CPU is measured in rounds alternately without and with the dashboard open (a webview panel that takes every message
// the host posts, as VS Code's would; its page said `ready`). The messages of one open round go to RECORD_FILE, for
// the page's replay. Prints one JSON line.
// argv: bundle workers seconds rounds python cwd app port recordFile rate
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { bundlePath, extensionContext, runHost, startServerTask, vscode, waitFor } = require('./host.cjs');

const { spawn } = require('node:child_process');

const [, , , workersArg, secondsArg, roundsArg, python, cwd, app, port, recordFile, rate] = process.argv;
const workers = Number(workersArg);
const seconds = Number(secondsArg);
const rounds = Number(roundsArg);

const commands = new Map();
vscode.commands.registerCommand = (id, handler) => {
  commands.set(id, handler);
  return new vscode.Disposable(() => commands.delete(id));
};
vscode.env.language = 'en';
vscode.Uri.joinPath = (base, ...parts) => ({ toString: () => path.join(base.fsPath ?? String(base), ...parts), fsPath: path.join(base.fsPath ?? '', ...parts) });

/** The panels the extension made: what they were posted, and their page's side of the channel. */
const panels = [];
vscode.window.createWebviewPanel = () => {
  const received = new vscode.EventEmitter();
  const disposed = new vscode.EventEmitter();
  const panel = {
    posted: [],
    visible: true,
    title: '',
    iconPath: undefined,
    webview: {
      options: {},
      html: '',
      cspSource: 'vscode-webview:',
      asWebviewUri: (uri) => uri,
      postMessage: (message) => {
        panel.posted.push({ at: Date.now(), json: JSON.stringify(message) });
        return Promise.resolve(true);
      },
      onDidReceiveMessage: received.event,
    },
    onDidChangeViewState: () => new vscode.Disposable(() => undefined),
    onDidDispose: disposed.event,
    reveal() {},
    dispose() {
      disposed.fire();
    },
    say: (message) => received.fire(message),
  };
  panels.push(panel);
  return panel;
};

async function measure(ms) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
}

async function main() {
  const api = require(bundlePath()).activate(extensionContext(path.resolve(path.dirname(bundlePath()), '..')));
  const terminal = await startServerTask(api, { name: 'dashboard-bench', app, workers, cwd, python, port });
  // The load, from a process of its own (its CPU is not this process's), for every round.
  const load = spawn(process.execPath, [path.join(__dirname, 'dashboardLoad.mjs'), `http://127.0.0.1:${port}/pid`, rate, String(rounds * 2 * (seconds + 1) + 10)], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const without = [];
  const withPanel = [];
  let recorded;
  for (let round = 0; round < rounds; round++) {
    without.push(await measure(seconds * 1000));
    await commands.get('serverWorkers.openDashboard')(api.servers()[0].id);
    await waitFor('the panel', () => panels.length === round + 1, 10000);
    const panel = panels[round];
    panel.say({ type: 'ready' });
    withPanel.push(await measure(seconds * 1000));
    recorded ??= panel.posted;
    panel.dispose();
  }
  fs.writeFileSync(recordFile, JSON.stringify(recorded.map((m) => JSON.parse(m.json))));
  const appends = recorded.slice(1);
  const result = {
    workers,
    seconds,
    withoutPercent: without,
    withPercent: withPanel,
    resetBytes: recorded[0]?.json.length ?? 0,
    appendsPerSecond: appends.length / seconds,
    appendBytes: appends.length ? appends.reduce((sum, m) => sum + m.json.length, 0) / appends.length : 0,
  };
  load.kill();
  return { api, terminal, result };
}

runHost(main);
