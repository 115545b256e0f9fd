/**
 * Granian (a Rust server whose main process forks Python workers). Its supervisor respawns a dead worker when told
 * (--respawn-failed-workers), replaces every worker gracefully on SIGHUP (the successor first, then the old one), and
 * recycles a worker over a memory limit itself (--workers-max-rss); it takes no SIGTTIN / SIGTTOU, so a new worker
 * count means a restart.
 */
import type { PythonEnvironment } from '../pythonEnvironment';
import { compareVersions } from '../pythonEnvironment';
import { type Capabilities, type ServerAdapter, missingPackage } from './adapter';

const MIN_VERSION = '2.0';
/** Granian's bounds for --workers-kill-timeout. */
const KILL_TIMEOUT_RANGE = [1, 1800] as const;
/** Seconds between two of Granian's memory samples: as often as Server Workers samples for the other servers. */
const RSS_SAMPLE_INTERVAL = 1;

export const granianAdapter: ServerAdapter = {
  kind: 'granian',
  packageName: 'granian',

  checkEnvironment(_def, env: PythonEnvironment) {
    const version = env.packages.granian;
    if (!version) return missingPackage('granian', env);
    if (compareVersions(version, MIN_VERSION) < 0) {
      return { message: `Server Workers runs Granian ${MIN_VERSION} or later; ${env.python} has Granian ${version}. Upgrade it: ${env.python} -m pip install -U granian` };
    }
    return undefined;
  },

  argv(def) {
    const [minKill, maxKill] = KILL_TIMEOUT_RANGE;
    const argv = [
      '-m', 'granian', def.app,
      '--interface', def.interface ?? 'asgi',
      '--workers', String(def.workers),
      '--host', def.host,
      '--port', String(def.port),
      '--respawn-failed-workers',
      // A worker that ignores SIGTERM is killed after this; Granian waits for it for ever by default.
      '--workers-kill-timeout', String(Math.min(maxKill, Math.max(minKill, def.gracefulTimeout))),
    ];
    if (def.certfile && def.keyfile) argv.push('--ssl-certificate', def.certfile, '--ssl-keyfile', def.keyfile);
    if (def.maxMemoryMb !== undefined) argv.push('--workers-max-rss', String(def.maxMemoryMb), '--rss-sample-interval', String(RSS_SAMPLE_INTERVAL));
    argv.push(...def.args);
    return argv;
  },

  capabilities(): Capabilities {
    return { scale: 'restart', reload: 'signal', respawnsWorkers: true, recyclesOverMemoryLimit: true };
  },

  runsInOneProcess() {
    return false;
  },

  runTraits() {
    return { agentlessReadyAt: 'booting', spawnsWorkers: false, positionedWorkers: true };
  },
};
