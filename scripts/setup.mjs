#!/usr/bin/env node
// `npm run setup`: everything the tests and `npm start` need beyond `npm install`, idempotent and quick when done:
//   - Debian packages: chromium (the browser side of the e2e tests), libkrb5-dev (code-server's kerberos module),
//     ripgrep (code-server's search, and the rg that @vscode/ripgrep would otherwise download);
//   - the test virtualenvs: .venv (requirements-dev.txt) and .venv-uvicorn-0.29 (uvicorn==0.29.0);
//   - examples/*/.venv -> ../../.venv, so the examples' workspace .venv detection finds the test venv;
//   - code-server 4.100.3 (VS Code 1.100.3 server + web workbench) in .vscode-test/code-server-4.100.3/.
// It also exports helpers that scripts/start.mjs, scripts/test.mjs and test/e2e/harness.mjs use to start
// code-server isolated. Every child process gets an argv array, never a shell string.
// See /work/shared/notes/vscode-in-ci.md (project notes) for why code-server and how.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const vscodeTestDir = path.join(repoRoot, '.vscode-test');

export const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'ripgrep'];
export const CHROMIUM = '/usr/bin/chromium';

export const CODE_SERVER_VERSION = '4.100.3';
export const codeServerDir = path.join(vscodeTestDir, `code-server-${CODE_SERVER_VERSION}`);
export const codeServerPackageDir = path.join(codeServerDir, 'node_modules', 'code-server');
export const codeServerEntry = path.join(codeServerPackageDir, 'out', 'node', 'entry.js');
// Install scripts that npm 11 must be allowed to run in code-server's own install folder. The nested installs that
// code-server's postinstall runs (lib/vscode: node-pty, kerberos, @vscode/ripgrep, spdlog...) are projects of their
// own and run their scripts; the check after the install verifies the native modules are there.
const CODE_SERVER_ALLOW_SCRIPTS = { 'code-server': true, argon2: true };
// @vscode/ripgrep@1.15.11 (code-server 4.100.x) looks for this tarball before downloading rg from GitHub.
const RIPGREP_CACHE = path.join('vscode-ripgrep-cache-1.15.11', 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
// Files whose presence shows that the native parts of the install worked.
const CODE_SERVER_NATIVE_FILES = [
  'lib/vscode/node_modules/node-pty/build/Release/pty.node',
  'lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node',
  'lib/vscode/node_modules/@vscode/ripgrep/bin/rg',
  'lib/vscode/node_modules/kerberos/build/Release/kerberos.node',
  'lib/vscode/node_modules/native-watchdog/build/Release/watchdog.node',
];

export const VENVS = [
  { dir: '.venv', requirementsFile: 'requirements-dev.txt' },
  { dir: '.venv-uvicorn-0.29', requirements: ['uvicorn==0.29.0'] },
];
export const EXAMPLE_VENV_LINKS = ['examples/fastapi/.venv', 'examples/flask/.venv'];
const VENV_MARKER = '.server-workers-setup.json';

export function log(message) {
  console.log(`[setup] ${message}`);
}

export class SetupError extends Error {}

/** Runs a command (argv array) with inherited output; throws SetupError when it fails. */
export function run(command, args, options = {}) {
  const shown = [command, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
  log(`$ ${shown}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new SetupError(`${shown}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new SetupError(`${shown} exited with ${result.status ?? result.signal}`);
  }
  return result;
}

/** Runs a command quietly and returns { status, stdout, stderr } (status null when it could not start). */
export function capture(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  return { status: result.error ? null : result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** The environment without npm's per-run variables (npm_config_*, npm_package_*...), for a nested npm or tool. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------------------------------------------
// Debian packages

export function missingAptPackages(packages = APT_PACKAGES) {
  return packages.filter((name) => {
    const result = capture('dpkg-query', ['-W', '-f=${Status}', name]);
    return !(result.status === 0 && result.stdout.includes('install ok installed'));
  });
}

export function ensureAptPackages(packages = APT_PACKAGES) {
  const missing = missingAptPackages(packages);
  if (missing.length === 0) {
    log(`apt packages present: ${packages.join(' ')}`);
    return;
  }
  if (process.getuid?.() !== 0) {
    throw new SetupError(
      `missing Debian packages: ${missing.join(' ')}. Install them as root, then run this again:\n` +
        `  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  log(`installing apt packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env });
  run('apt-get', ['install', '-y', ...missing], { env });
  const still = missingAptPackages(missing);
  if (still.length) throw new SetupError(`apt-get did not install: ${still.join(' ')}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Python virtualenvs

function basePython() {
  return process.env.PYTHON || 'python3';
}

function venvPython(venvDir) {
  return path.join(venvDir, 'bin', 'python');
}

/** What the venv must hold: the requirement lines (comments dropped) and the base interpreter's version. */
function venvSpec(venv) {
  const lines = venv.requirementsFile
    ? fs.readFileSync(path.join(repoRoot, venv.requirementsFile), 'utf8').split('\n')
    : venv.requirements;
  const requirements = lines.map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  const hash = createHash('sha256').update(requirements.join('\n')).digest('hex');
  return { requirements, hash };
}

function readMarker(venvDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(venvDir, VENV_MARKER), 'utf8'));
  } catch {
    return null;
  }
}

export function ensureVenv(venv) {
  const venvDir = path.join(repoRoot, venv.dir);
  const { requirements, hash } = venvSpec(venv);
  const python = venvPython(venvDir);
  const probe = capture(python, ['-c', 'import sys; print(sys.version.split()[0])']);
  const works = probe.status === 0;
  const marker = readMarker(venvDir);
  if (works && marker?.requirementsHash === hash) {
    log(`${venv.dir}: up to date (Python ${probe.stdout.trim()})`);
    return;
  }
  if (!works) {
    if (fs.existsSync(venvDir)) {
      log(`${venv.dir}: exists but its python does not run; recreating it`);
      fs.rmSync(venvDir, { recursive: true, force: true });
    }
    log(`${venv.dir}: creating with ${basePython()}`);
    run(basePython(), ['-m', 'venv', venvDir]);
  } else {
    // An existing venv (perhaps made by hand): pip checks what is installed and adds only what is missing.
    log(`${venv.dir}: exists without a matching marker; checking its packages with pip`);
  }
  const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q'];
  const pipEnv = { ...cleanEnv(), PIP_NO_INPUT: '1' };
  if (venv.requirementsFile) run(python, [...pip, '-r', path.join(repoRoot, venv.requirementsFile)], { env: pipEnv });
  else run(python, [...pip, ...requirements], { env: pipEnv });
  const check = capture(python, ['-m', 'pip', 'check', '--disable-pip-version-check']);
  if (check.status !== 0) log(`${venv.dir}: pip check reports:\n${check.stdout}${check.stderr}`);
  const version = capture(python, ['-c', 'import sys; print(sys.version.split()[0])']).stdout.trim();
  fs.writeFileSync(
    path.join(venvDir, VENV_MARKER),
    JSON.stringify({ requirementsHash: hash, requirements, python: version }, null, 2) + '\n',
  );
  log(`${venv.dir}: ready (Python ${version})`);
}

export function ensureVenvs() {
  for (const venv of VENVS) ensureVenv(venv);
}

export function ensureExampleVenvLinks() {
  for (const rel of EXAMPLE_VENV_LINKS) {
    const link = path.join(repoRoot, rel);
    if (!fs.existsSync(path.dirname(link))) continue;
    const target = path.relative(path.dirname(link), path.join(repoRoot, '.venv')); // ../../.venv
    let current = null;
    try {
      const stat = fs.lstatSync(link);
      if (!stat.isSymbolicLink()) {
        log(`${rel}: a real folder, not a link; leaving it as it is`);
        continue;
      }
      current = fs.readlinkSync(link);
    } catch {
      // absent
    }
    if (current === target) continue;
    if (current !== null) fs.unlinkSync(link);
    fs.symlinkSync(target, link);
    log(`${rel} -> ${target}`);
  }
  log(`example venv links: ${EXAMPLE_VENV_LINKS.join(', ')} -> ../../.venv`);
}

// ---------------------------------------------------------------------------------------------------------------
// code-server

/** An environment for a code-server process that writes nothing outside `scratch`. */
export function isolatedEnv(scratch, extra = {}) {
  const dirs = {
    XDG_DATA_HOME: path.join(scratch, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(scratch, 'xdg-config'),
    XDG_CACHE_HOME: path.join(scratch, 'xdg-cache'),
    XDG_STATE_HOME: path.join(scratch, 'xdg-state'),
    TMPDIR: path.join(scratch, 'tmp'),
  };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return cleanEnv({ ...dirs, ...extra });
}

/** Why the installed code-server is not usable, or null when it is. */
export function codeServerProblem() {
  if (!fs.existsSync(codeServerEntry)) return 'not installed';
  for (const rel of CODE_SERVER_NATIVE_FILES) {
    if (!fs.existsSync(path.join(codeServerPackageDir, rel))) return `missing ${rel}`;
  }
  const scratch = path.join(codeServerDir, 'check');
  const result = capture(process.execPath, [codeServerEntry, '--version'], {
    env: isolatedEnv(scratch),
    timeout: 60_000,
  });
  fs.rmSync(scratch, { recursive: true, force: true });
  if (result.status !== 0) return `--version failed: ${(result.stderr || result.stdout).trim().slice(-2000)}`;
  if (!result.stdout.includes(`${CODE_SERVER_VERSION} `)) return `unexpected --version output: ${result.stdout.trim()}`;
  return null;
}

export function ensureCodeServer({ force = false } = {}) {
  const problem = force ? 'reinstall requested' : codeServerProblem();
  if (!problem) {
    log(`code-server ${CODE_SERVER_VERSION}: present (${path.relative(repoRoot, codeServerDir)})`);
    return;
  }
  const missing = missingAptPackages();
  if (missing.length) throw new SetupError(`code-server needs the Debian packages ${missing.join(' ')} first`);
  log(`code-server ${CODE_SERVER_VERSION}: ${problem}; installing into ${path.relative(repoRoot, codeServerDir)}`);
  const started = Date.now();
  for (const name of ['node_modules', 'package-lock.json', 'tmp', 'check']) {
    fs.rmSync(path.join(codeServerDir, name), { recursive: true, force: true });
  }
  fs.mkdirSync(codeServerDir, { recursive: true });
  fs.writeFileSync(
    path.join(codeServerDir, 'package.json'),
    JSON.stringify(
      {
        name: 'server-workers-code-server',
        private: true,
        description: 'code-server for the Server Workers e2e tests; made by scripts/setup.mjs',
        dependencies: { 'code-server': CODE_SERVER_VERSION },
        allowScripts: CODE_SERVER_ALLOW_SCRIPTS,
      },
      null,
      2,
    ) + '\n',
  );
  // The rg binary that @vscode/ripgrep's postinstall would download from GitHub: Debian's, in the cache it checks.
  const tmp = path.join(codeServerDir, 'tmp');
  const tarball = path.join(tmp, RIPGREP_CACHE);
  const rgStage = path.join(tmp, 'rg-stage');
  fs.mkdirSync(path.dirname(tarball), { recursive: true });
  fs.mkdirSync(rgStage, { recursive: true });
  const rg = capture('sh', ['-c', 'command -v rg']).stdout.trim() || '/usr/bin/rg';
  fs.copyFileSync(rg, path.join(rgStage, 'rg'));
  fs.chmodSync(path.join(rgStage, 'rg'), 0o755);
  run('tar', ['-czf', tarball, '-C', rgStage, 'rg']);
  const env = cleanEnv({
    TMPDIR: tmp,
    npm_config_yes: 'true', // node-pty's install runs `npx node-gyp`; the user's npmrc may say yes=false
    npm_config_unsafe_perm: 'true', // code-server's postinstall refuses to run as root without it
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  });
  run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: codeServerDir, env });
  fs.rmSync(tmp, { recursive: true, force: true });
  const after = codeServerProblem();
  if (after) throw new SetupError(`code-server ${CODE_SERVER_VERSION} installed but not usable: ${after}`);
  log(`code-server ${CODE_SERVER_VERSION}: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** A free TCP port on 127.0.0.1 (free when asked; code-server binds it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(null));
    request.setTimeout(2000, () => request.destroy());
  });
}

/** Sends a signal to a detached child's whole process group; false when the group is gone. */
export function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, then SIGKILL after `graceMs` if anything of it is still there. */
export async function killGroup(pid, graceMs = 3000) {
  if (!signalGroup(pid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (!signalGroup(pid, 0)) return;
  }
  signalGroup(pid, 'SIGKILL');
}

/**
 * Starts code-server isolated in `scratch` (XDG dirs, TMPDIR, user data, extensions, config all inside it), bound
 * to 127.0.0.1:port, in its own process group. Resolves once it answers HTTP. Workspace Trust is off unless
 * `workspaceTrust` is true: then it is on, without the startup prompt, so the workspace opens untrusted.
 * Returns { child, port, baseUrl, scratch, userDataDir, logFile, stop() }.
 */
export async function startCodeServer({
  scratch,
  workspace,
  port,
  extensionsDir,
  userDataDir,
  settings = {},
  env = {},
  extraArgs = [],
  workspaceTrust = false,
  output = 'file', // 'file': code-server's output to scratch/code-server.log; 'inherit': to this terminal
} = {}) {
  fs.mkdirSync(scratch, { recursive: true });
  port = port || (await freePort());
  userDataDir = userDataDir || path.join(scratch, 'user-data');
  extensionsDir = extensionsDir || path.join(scratch, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const settingsFile = path.join(userDataDir, 'User', 'settings.json');
  let current = {};
  try {
    current = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
  } catch {
    // absent (or not plain JSON): start from ours
  }
  fs.writeFileSync(
    settingsFile,
    JSON.stringify(
      {
        'workbench.startupEditor': 'none', // the welcome page steals focus otherwise
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'workbench.tips.enabled': false,
        'git.openRepositoryInParentFolders': 'never', // examples/ sit in this repo: no toast about it
        ...current,
        ...(workspaceTrust ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' } : {}),
        ...settings,
      },
      null,
      2,
    ) + '\n',
  );
  const configFile = path.join(scratch, 'config.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const args = [
    codeServerEntry,
    '--config', configFile,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    ...extraArgs,
    workspace,
  ];
  const logFile = path.join(scratch, 'code-server.log');
  const logFd = output === 'inherit' ? null : fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, args, {
    cwd: scratch,
    env: isolatedEnv(scratch, env),
    detached: true, // its own process group: stop() ends code-server, its extension hosts and their children
    stdio: output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', logFd, logFd],
  });
  if (logFd !== null) fs.closeSync(logFd);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = () => killGroup(child.pid);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      const tail = logFd !== null ? fs.readFileSync(logFile, 'utf8').slice(-3000) : '';
      throw new SetupError(`code-server exited (${exited.code ?? exited.signal}) before it answered\n${tail}`);
    }
    if ((await httpStatus(`${baseUrl}/healthz`)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new SetupError(`code-server did not answer on ${baseUrl} within 60 s (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, port, baseUrl, scratch, userDataDir, extensionsDir, logFile, stop };
}

/**
 * The workbench URL that opens `workspace` with the extension under development loaded (and its tests run, when
 * extensionTestsPath is given): VS Code's web `payload`, as its own web integration tests use it.
 */
export function workbenchUrl({ port, workspace, extensionDevelopmentPath, extensionTestsPath }) {
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  payload.push(['skipWelcome', 'true']);
  return (
    `http://127.0.0.1:${port}/?${workspace.endsWith('.code-workspace') ? 'workspace' : 'folder'}=${encodeURIComponent(workspace)}` +
    `&payload=${encodeURIComponent(JSON.stringify(payload))}`
  );
}

/** The Chromium launch options that work on these machines (see the notes). */
export function chromiumLaunchOptions(extra = {}) {
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--disable-breakpad',
    ],
    viewport: { width: 1400, height: 900 },
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------------------

/** Everything, in order. `parts` picks a subset: apt, venvs, links, code-server. */
export function setup(parts = ['apt', 'venvs', 'links', 'code-server']) {
  const started = Date.now();
  if (parts.includes('apt')) ensureAptPackages();
  if (parts.includes('venvs')) ensureVenvs();
  if (parts.includes('links')) ensureExampleVenvLinks();
  if (parts.includes('code-server')) ensureCodeServer();
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log('usage: node scripts/setup.mjs [--only apt,venvs,links,code-server] [--reinstall-code-server]');
    return;
  }
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : undefined;
  if (argv.includes('--reinstall-code-server')) ensureCodeServer({ force: true });
  setup(only);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    main();
  } catch (error) {
    if (error instanceof SetupError) {
      console.error(`[setup] failed: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}
