// Child processes for the scripts: argv arrays only, never a shell string.
import { spawnSync } from 'node:child_process';

/** What a script could not do for want of something the setup provides (or could not provide). */
export class SetupError extends Error {}

function shown(command, args) {
  return [command, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** Runs a command with inherited output, shown as `[setup] $ ...`; throws SetupError when it fails. */
export function run(command, args, options = {}) {
  const line = shown(command, args);
  console.log(`[setup] $ ${line}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new SetupError(`${line}: ${result.error.message}`);
  if (result.status !== 0) throw new SetupError(`${line} exited with ${result.status ?? result.signal}`);
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
