// The oldest and the newest Python the README claims (3.9 and 3.13), for the integration phases that run the
// agent's files on each (scripts/test.mjs). Each gets a virtualenv of its own, made by the setup from the
// machine's interpreter of that version: SERVER_WORKERS_PYTHON<tag> (e.g. SERVER_WORKERS_PYTHON39=/usr/bin/python3.9)
// when set, else the newest pyenv build of that version, else python<version> on PATH.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './paths.mjs';
import { capture } from './process.mjs';

/**
 * version: major.minor; venv: the folder the setup makes; requirementsFile: its pins (what the agent's integration
 * files run: 3.13 at the test venv's pins, 3.9 the newest releases that still support 3.9).
 */
export const PYTHON_RUNTIMES = [
  { version: '3.9', venv: '.venv-py39', requirementsFile: 'requirements-py39.txt' },
  { version: '3.13', venv: '.venv-py313', requirementsFile: 'requirements-py313.txt' },
];

/** '3.9' -> '39': the phase's and the environment variable's suffix. */
export function pythonTag(version) {
  return version.replace('.', '');
}

export function pythonEnvVar(version) {
  return `SERVER_WORKERS_PYTHON${pythonTag(version)}`;
}

/** The python of a runtime's virtualenv (what the tests run: SERVER_WORKERS_TEST_PYTHON). */
export function venvPythonOf(runtime) {
  return path.join(repoRoot, runtime.venv, 'bin', 'python');
}

/** The major.minor that `python` runs, or null when it does not run. */
export function versionOf(python) {
  const result = capture(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
  return result.status === 0 ? result.stdout.trim() : null;
}

function pyenvRoot() {
  if (process.env.PYENV_ROOT) return process.env.PYENV_ROOT;
  const asked = capture('pyenv', ['root']);
  if (asked.status === 0 && asked.stdout.trim()) return asked.stdout.trim();
  return path.join(os.homedir(), '.pyenv');
}

/** pyenv's builds of `version` (3.9.18, 3.9.2...), newest first. */
function pyenvBuilds(version) {
  const dir = path.join(pyenvRoot(), 'versions');
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const patch = (name) => Number(name.slice(version.length + 1));
  return names
    .filter((name) => new RegExp(`^${version.replace('.', '\\.')}\\.\\d+$`).test(name))
    .sort((a, b) => patch(b) - patch(a))
    .map((name) => path.join(dir, name, 'bin', `python${version}`));
}

function onPath(command) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.map((dir) => path.join(dir, command)).filter((file) => fs.existsSync(file));
}

/**
 * The machine's interpreter of `version`: { python } or { problem } saying where it looked and how to provide one.
 */
export function findPython(version) {
  const fromEnv = process.env[pythonEnvVar(version)];
  if (fromEnv) {
    const found = versionOf(fromEnv);
    if (found === version) return { python: fromEnv };
    const got = found ? `runs Python ${found}` : 'does not run';
    return { problem: `${pythonEnvVar(version)}=${fromEnv} ${got}, not Python ${version}` };
  }
  const candidates = [...pyenvBuilds(version), ...onPath(`python${version}`)];
  const python = candidates.find((candidate) => versionOf(candidate) === version);
  if (python) return { python };
  return {
    problem:
      `no Python ${version} on this machine (looked in ${path.join(pyenvRoot(), 'versions')} and for python${version} ` +
      `on PATH). Install it (e.g. \`pyenv install ${version}\`) or set ${pythonEnvVar(version)} to its interpreter, ` +
      'then run `npm run setup` again',
  };
}

/** Why the runtime's virtualenv cannot run the tests, or null when it can. */
export function pythonVenvProblem(runtime) {
  const python = venvPythonOf(runtime);
  if (!fs.existsSync(python)) {
    const { problem } = findPython(runtime.version);
    return problem ?? `${runtime.venv} is missing; run \`npm run setup\``;
  }
  const found = versionOf(python);
  if (found !== runtime.version) return `${python} ${found ? `runs Python ${found}` : 'does not run'}, not Python ${runtime.version}; run \`npm run setup\``;
  return null;
}
