import * as path from 'node:path';
import type { ResolvedDefinition } from '../definition';
import type { PythonEnvironment } from '../pythonEnvironment';
import { compareVersions } from '../pythonEnvironment';
import { type Capabilities, type LaunchPaths, type ServerAdapter, missingPackage } from './adapter';

const UVICORN_WORKER = 'uvicorn_worker.UvicornWorker';
const UVICORN_LEGACY_WORKER = 'uvicorn.workers.UvicornWorker';

/** Gunicorn's worker class for a definition: the given one, else UvicornWorker (from uvicorn-worker when installed). */
export function gunicornWorkerClass(def: ResolvedDefinition, env: PythonEnvironment): string {
  if (def.workerClass) return def.workerClass;
  return env.packages['uvicorn-worker'] ? UVICORN_WORKER : UVICORN_LEGACY_WORKER;
}

/** Where a server's Gunicorn control socket is: in its run's private folder. */
export function gunicornControlSocket(runtimeDir: string): string {
  return path.join(runtimeDir, 'gunicorn.ctl');
}

export const gunicornAdapter: ServerAdapter = {
  kind: 'gunicorn',
  packageName: 'gunicorn',

  checkEnvironment(def, env) {
    if (!env.packages.gunicorn) return missingPackage('gunicorn', env);
    const workerClass = gunicornWorkerClass(def, env);
    if (workerClass === UVICORN_WORKER && !env.packages['uvicorn-worker']) return missingPackage('uvicorn-worker', env);
    if (workerClass === UVICORN_LEGACY_WORKER && !env.packages.uvicorn) return missingPackage('uvicorn', env);
    if (workerClass === 'asgi' && compareVersions(env.packages.gunicorn, '24') < 0) {
      return { message: `Gunicorn's native "asgi" worker needs Gunicorn 24 or later; ${env.python} has Gunicorn ${env.packages.gunicorn}. Upgrade it (${env.python} -m pip install -U gunicorn) or use "workerClass": "${UVICORN_WORKER}".` };
    }
    return undefined;
  },

  argv(def, env, paths: LaunchPaths) {
    const argv = [
      '-m', 'gunicorn', def.app,
      '--workers', String(def.workers),
      '--worker-class', gunicornWorkerClass(def, env),
      '--bind', def.host.includes(':') ? `[${def.host}]:${def.port}` : `${def.host}:${def.port}`,
      '--graceful-timeout', String(def.gracefulTimeout),
    ];
    if (def.timeout !== undefined) argv.push('--timeout', String(def.timeout));
    if (def.certfile && def.keyfile) argv.push('--certfile', def.certfile, '--keyfile', def.keyfile);
    // Gunicorn 25+ opens a control socket at one shared per-user path by default: give each server its own.
    if (env.gunicornSettings.includes('control_socket')) argv.push('--control-socket', gunicornControlSocket(paths.runtimeDir));
    argv.push(...def.args);
    return argv;
  },

  capabilities(env, def): Capabilities {
    const ownControlSocket = def.args.some((arg) => arg.startsWith('--control-socket') || arg === '--no-control-socket');
    const controlSocket = env.gunicornSettings.includes('control_socket') && !ownControlSocket;
    return { scale: 'signal', reload: 'signal', respawnsWorkers: true, reloadRestoresLaunchCount: true, controlSocket };
  },

  runsInOneProcess() {
    return false;
  },

  runTraits(def) {
    // Uvicorn-based workers log `Started server process [N]` once their startup is done; Gunicorn's own ones only boot.
    const uvicornWorkers = def.workerClass === undefined || def.workerClass.toLowerCase().includes('uvicorn');
    return { agentlessReadyAt: uvicornWorkers ? 'started' : 'booting', spawnsWorkers: false, positionedWorkers: false };
  },
};
