/**
 * Hypercorn (its supervisor spawns workers with multiprocessing). Hypercorn 0.18's supervisor replaces a worker that
 * exits cleanly (code 0), and stops every worker and itself when one exits otherwise (killed, crashed); SIGHUP stops
 * all workers gracefully and starts new ones; it takes no SIGTTIN / SIGTTOU, so a new worker count means a restart.
 * Hypercorn 0.17 (the last for Python 3.9) has no SIGHUP handler: the signal would end it, so a reload restarts it.
 */
import { compareVersions } from '../pythonEnvironment';
import { type Capabilities, type ServerAdapter, missingPackage } from './adapter';

export const hypercornAdapter: ServerAdapter = {
  kind: 'hypercorn',
  packageName: 'hypercorn',

  checkEnvironment(_def, env) {
    return env.packages.hypercorn ? undefined : missingPackage('hypercorn', env);
  },

  argv(def) {
    const argv = [
      '-m', 'hypercorn', def.app,
      '--workers', String(def.workers),
      '--bind', def.host.includes(':') ? `[${def.host}]:${def.port}` : `${def.host}:${def.port}`,
      '--graceful-timeout', String(def.gracefulTimeout),
    ];
    // With a certificate, Hypercorn serves HTTPS on --bind.
    if (def.certfile && def.keyfile) argv.push('--certfile', def.certfile, '--keyfile', def.keyfile);
    argv.push(...def.args);
    return argv;
  },

  capabilities(env): Capabilities {
    const reload = env.packages.hypercorn && compareVersions(env.packages.hypercorn, '0.18') >= 0 ? 'signal' : 'restart';
    return { scale: 'restart', reload, respawnsWorkers: false, stopsWhenAWorkerDies: true };
  },

  runsInOneProcess() {
    return false;
  },

  runTraits() {
    return { agentlessReadyAt: 'started', spawnsWorkers: true, positionedWorkers: false };
  },
};
