// The plain-Node approximation of the extension's activation time (scripts/bench.mjs, section "extension"):
// in a fresh Node process, require(dist/extension.js) with scripts/bench/vscode-stub.cjs as `vscode`, then call
// activate() with a stub context (argv[2]: another bundle to load instead). Prints {"loadMs", "activateMs"} as one JSON line. The real figure comes from
// VS Code itself (test/e2e/activation.test.ts); this one leaves out VS Code's own work (the extension host's
// module loader, the API objects behind the stubs).
'use strict';
const { performance } = require('node:perf_hooks');
const { bundlePath, extensionContext } = require('./host.cjs');

// Loaded before the clock starts, as in VS Code's extension host: the API (host.cjs), and the Node built-ins VS Code itself uses.
for (const builtin of ['child_process', 'crypto', 'fs', 'fs/promises', 'net', 'os', 'path', 'readline', 'util']) require(`node:${builtin}`);
const bundle = bundlePath();
const context = extensionContext();

process.on('unhandledRejection', () => undefined); // stubs may make the extension's background work fail; not timed

const cpuMs = (from) => {
  const { user, system } = process.cpuUsage(from);
  return (user + system) / 1000;
};
const c0 = process.cpuUsage();
const t0 = performance.now();
const extension = require(bundle);
const t1 = performance.now();
const loadCpuMs = cpuMs(c0);
extension.activate(context);
const t2 = performance.now();
// Wall time (VS Code's figure is); the CPU time of the load beside it, steadier on a loaded machine.
process.stdout.write(`${JSON.stringify({ loadMs: t1 - t0, activateMs: t2 - t1, loadCpuMs })}\n`);
setTimeout(() => process.exit(0), 50);
