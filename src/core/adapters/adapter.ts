import type { ResolvedDefinition, ServerKind } from '../definition';
import type { EnvironmentProblem } from '../errors';
import type { PythonEnvironment } from '../pythonEnvironment';

/** What a server kind can do in the selected environment; the UI enables only these. */
export interface Capabilities {
  /** `signal`: TTIN/TTOU one worker at a time; `restart`: stop and start with the new count. */
  scale: 'signal' | 'restart';
  /** `signal`: HUP replaces every worker; `restart`: stop and start. */
  reload: 'signal' | 'restart';
  /** The manager replaces a worker that dies. */
  respawnsWorkers: boolean;
  /** A reload goes back to the worker count the server was launched with (Gunicorn re-reads its config on HUP). */
  reloadRestoresLaunchCount?: boolean;
  /**
   * The manager stops itself and every other worker when one worker dies (Hypercorn): a lost worker ends the run, and
   * the restart policy decides what follows.
   */
  stopsWhenAWorkerDies?: boolean;
  /** The manager recycles a worker over `maxMemoryMb` itself, successor first (Granian's --workers-max-rss). */
  recyclesOverMemoryLimit?: boolean;
  /** Gunicorn 25.1+'s control socket is on (at gunicornControlSocket(runtimeDir)): workers are added and removed by count. */
  controlSocket?: boolean;
}

/** How a run reads a server kind's processes and log lines. */
export interface RunTraits {
  /** Agent off: a worker is ready at the line announcing it ('booting'), or at the line its finished startup logs. */
  agentlessReadyAt: 'booting' | 'started';
  /** Its workers are spawned interpreters (`--multiprocessing-fork` on their command line), not forks of the master. */
  spawnsWorkers: boolean;
  /** The master names its workers by position (worker-1..N) and logs each hand-over of a position (Granian). */
  positionedWorkers: boolean;
}

export interface LaunchPaths {
  /** A private directory of this server run (0700), for sockets the server needs. */
  runtimeDir: string;
}

export interface ServerAdapter {
  readonly kind: ServerKind;
  /** pip's name of the server's package: its presence means the server is installed. */
  readonly packageName: keyof PythonEnvironment['packages'];
  /** Checks the environment has what this definition needs; returns the problem (said for people) or undefined. */
  checkEnvironment(def: ResolvedDefinition, env: PythonEnvironment): EnvironmentProblem | undefined;
  /** The interpreter's arguments (after the python path). */
  argv(def: ResolvedDefinition, env: PythonEnvironment, paths: LaunchPaths): string[];
  capabilities(env: PythonEnvironment, def: ResolvedDefinition): Capabilities;
  /** The master process serves by itself, with no worker processes (uvicorn with one worker). */
  runsInOneProcess(def: ResolvedDefinition): boolean;
  runTraits(def: ResolvedDefinition): RunTraits;
}

export function missingPackage(pkg: string, env: PythonEnvironment): EnvironmentProblem {
  return {
    message: `${pkg} is not installed in the Python interpreter ${env.python} (Python ${env.pythonVersion}). Install it with: ${env.python} -m pip install ${pkg}`,
    missingPackage: pkg,
  };
}
