/**
 * Before a reload that must restart the whole server (it cannot run two generations side by side), the app's module is
 * imported once in a process of its own, with the server's interpreter, folder and environment: when that fails, the
 * server is not stopped, and the previous code keeps serving. (What only the server's startup would show, such as a
 * failing ASGI lifespan, still fails the restart.) A warm master that forks its workers (Hypercorn's and Granian's,
 * once the agent made them warm) runs the check in a fork of itself, which has the libraries loaded already (the
 * agent's import_check.py); a master that cannot sends the check back here.
 */
import { spawn } from 'node:child_process';
import type { ResolvedDefinition } from '../definition';
import type { ServerRun } from '../serverRun';
import { bootFailureFrom } from './bootFailure';
import type { ReloadOutcome } from './reloadTypes';

const CHECK_TIMEOUT_MS = 60000;
const MAX_OUTPUT_BYTES = 256 * 1024;

// The module is imported the way the servers do (the cwd first on sys.path), then the app's attribute is looked up.
const CHECK_SCRIPT = [
  'import importlib, sys',
  'sys.path.insert(0, ".")',
  'module_name, attribute = sys.argv[1].split(":", 1)',
  'module = importlib.import_module(module_name)',
  'name = attribute.split("(", 1)[0].split(".", 1)[0].strip()',
  'if not hasattr(module, name): raise AttributeError("module %r has no attribute %r" % (module_name, name))',
].join('\n');

export async function checkAppImports(definition: ResolvedDefinition, run?: ServerRun): Promise<ReloadOutcome> {
  const reply = await run?.requestMaster({ t: 'import-check', app: definition.app }, CHECK_TIMEOUT_MS).catch(() => undefined);
  if (reply?.t === 'import-check' && reply.ran === true) {
    if (reply.ok === true) return { ok: true };
    return { ok: false, failure: bootFailureFrom((typeof reply.traceback === 'string' ? reply.traceback : '').split('\n'), definition.cwd) };
  }
  return checkInNewProcess(definition);
}

function checkInNewProcess(definition: ResolvedDefinition): Promise<ReloadOutcome> {
  return new Promise((resolve) => {
    const child = spawn(definition.python, ['-c', CHECK_SCRIPT, definition.app], {
      cwd: definition.cwd,
      env: { ...process.env, ...definition.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_OUTPUT_BYTES) stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }, CHECK_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, failure: { message: `Could not run ${definition.python}: ${error.message}`, details: error.message } });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve({ ok: true });
        return;
      }
      const lines = stderr.split('\n');
      const failure = bootFailureFrom(lines, definition.cwd);
      if (signal) failure.message = `importing ${definition.app} took over ${CHECK_TIMEOUT_MS / 1000} s`;
      resolve({ ok: false, failure });
    });
  });
}
