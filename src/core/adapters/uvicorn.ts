import type { PythonEnvironment } from '../pythonEnvironment';
import { compareVersions } from '../pythonEnvironment';
import { type Capabilities, type ServerAdapter, missingPackage } from './adapter';

/** Uvicorn 0.30 added worker respawn and SIGHUP / SIGTTIN / SIGTTOU to its supervisor. */
export function uvicornHasManagedWorkers(env: PythonEnvironment): boolean {
  return env.packages.uvicorn !== undefined && compareVersions(env.packages.uvicorn, '0.30.0') >= 0;
}

export const uvicornAdapter: ServerAdapter = {
  kind: 'uvicorn',
  packageName: 'uvicorn',

  checkEnvironment(_def, env) {
    return env.packages.uvicorn ? undefined : missingPackage('uvicorn', env);
  },

  argv(def) {
    const argv = [
      '-m', 'uvicorn', def.app,
      '--workers', String(def.workers),
      '--host', def.host,
      '--port', String(def.port),
      '--timeout-graceful-shutdown', String(def.gracefulTimeout),
    ];
    if (def.certfile && def.keyfile) argv.push('--ssl-certfile', def.certfile, '--ssl-keyfile', def.keyfile);
    argv.push(...def.args);
    return argv;
  },

  capabilities(env, def): Capabilities {
    // One worker runs without Uvicorn's supervisor: nothing there takes signals or respawns.
    const managed = uvicornHasManagedWorkers(env) && !this.runsInOneProcess(def);
    return { scale: managed ? 'signal' : 'restart', reload: managed ? 'signal' : 'restart', respawnsWorkers: managed };
  },

  runsInOneProcess(def) {
    return def.workers === 1;
  },

  runTraits() {
    return { agentlessReadyAt: 'started', spawnsWorkers: true, positionedWorkers: false };
  },
};
