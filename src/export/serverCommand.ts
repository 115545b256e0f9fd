/**
 * The server's command line in production, for every format that starts it (systemd, the image, Compose,
 * Kubernetes): the task's settings without what only development needs (the agent, the control socket, reload),
 * plus an access log. In a container, one server process by default: the cluster (or Compose) replicates it.
 */
import type { ResolvedDefinition, ServerKind } from '../core/definition';
import { gunicornWorkerClass } from '../core/adapters/gunicorn';
import type { Caveat, ExportInput } from './types';

/** Granian's bounds for --workers-kill-timeout. */
const GRANIAN_KILL_TIMEOUT = [1, 1800] as const;

export interface Listen {
  host: string;
  port: number;
  /** The certificate and key as the process sees them; absent: plain HTTP. */
  tls?: { certfile: string; keyfile: string };
}

/** What runs: the server kind (Gunicorn with a Uvicorn worker may become Uvicorn alone), its arguments after `python`. */
export interface ServerCommand {
  kind: ServerKind;
  workers: number;
  argv: string[];
  /** What the change to one process per container leaves out. */
  caveats: Caveat[];
}

/** Gunicorn's worker class for the task, as its environment resolves it (uvicorn-worker's when installed). */
export function workerClassOf(input: ExportInput): string {
  const { project } = input;
  return gunicornWorkerClass(input.definition, { python: '', pythonVersion: project.pythonVersion, packages: project.packages, gunicornSettings: [] });
}

function isUvicornWorker(workerClass: string): boolean {
  return /uvicorn/i.test(workerClass);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The task's server with `workers` workers listening as `listen` says: the arguments after the interpreter. */
export function serverArgv(input: ExportInput, workers: number, listen: Listen): string[] {
  const def = input.definition;
  const tls = listen.tls;
  switch (def.server) {
    case 'gunicorn': {
      const argv = ['-m', 'gunicorn', def.app, '--workers', String(workers), '--worker-class', workerClassOf(input), '--bind', hostPort(listen.host, listen.port)];
      if (def.timeout !== undefined) argv.push('--timeout', String(def.timeout));
      argv.push('--graceful-timeout', String(def.gracefulTimeout), '--access-logfile', '-');
      if (tls) argv.push('--certfile', tls.certfile, '--keyfile', tls.keyfile);
      return [...argv, ...def.args];
    }
    case 'uvicorn':
      return [...uvicornArgv(def, workers, listen), ...def.args];
    case 'granian': {
      const [min, max] = GRANIAN_KILL_TIMEOUT;
      const argv = ['-m', 'granian', def.app, '--interface', def.interface ?? 'asgi', '--workers', String(workers), '--host', listen.host, '--port', String(listen.port),
        '--respawn-failed-workers', '--workers-kill-timeout', String(Math.min(max, Math.max(min, def.gracefulTimeout))), '--access-log'];
      if (tls) argv.push('--ssl-certificate', tls.certfile, '--ssl-keyfile', tls.keyfile);
      if (def.maxMemoryMb !== undefined) argv.push('--workers-max-rss', String(def.maxMemoryMb));
      return [...argv, ...def.args];
    }
    case 'hypercorn': {
      const argv = ['-m', 'hypercorn', def.app, '--workers', String(workers), '--bind', hostPort(listen.host, listen.port), '--graceful-timeout', String(def.gracefulTimeout), '--access-logfile', '-'];
      if (tls) argv.push('--certfile', tls.certfile, '--keyfile', tls.keyfile);
      return [...argv, ...def.args];
    }
  }
}

/** Uvicorn's arguments (without the task's args): no --workers for one process, which then runs without a supervisor. */
function uvicornArgv(def: ResolvedDefinition, workers: number, listen: Listen, http?: string): string[] {
  const argv = ['-m', 'uvicorn', def.app];
  if (workers > 1) argv.push('--workers', String(workers));
  argv.push('--host', listen.host, '--port', String(listen.port), '--timeout-graceful-shutdown', String(def.gracefulTimeout));
  if (http) argv.push('--http', http);
  if (listen.tls) argv.push('--ssl-certfile', listen.tls.certfile, '--ssl-keyfile', listen.tls.keyfile);
  return argv;
}

/**
 * The command a container runs: one server process (FastAPI's advice for clusters: the cluster replicates it), so a
 * Gunicorn task with a Uvicorn worker runs Uvicorn alone, without a process manager that has nothing to manage; or,
 * with `workersInContainer`, the task's server with its N workers (one machine).
 */
export function containerCommand(input: ExportInput, listen: Listen): ServerCommand {
  const def = input.definition;
  if (input.options.workersInContainer) return { kind: def.server, workers: def.workers, argv: serverArgv(input, def.workers, listen), caveats: [] };
  const workerClass = def.server === 'gunicorn' ? workerClassOf(input) : '';
  if (def.server !== 'gunicorn' || !isUvicornWorker(workerClass)) {
    return { kind: def.server, workers: 1, argv: serverArgv(input, 1, listen), caveats: [] };
  }
  const caveats: Caveat[] = [];
  if (def.timeout !== undefined) {
    caveats.push({ property: 'timeout', message: 'Uvicorn alone has no worker timeout (Gunicorn\'s, which the task sets): the health check restarts a container that stops answering.' });
  }
  if (def.args.length > 0) {
    caveats.push({ property: 'args', message: `are Gunicorn's options, and one Uvicorn process runs in each container: not passed (${def.args.join(' ')}). Give Uvicorn's equivalents in the command, or use --workers-in-container.` });
  }
  const http = /h11/i.test(workerClass) ? 'h11' : undefined;
  return { kind: 'uvicorn', workers: 1, argv: uvicornArgv(def, 1, listen, http), caveats };
}

/** The task's workers times its memory limit plus one more for the master: what the whole server may use, in MiB. */
export function serverMemoryMb(maxMemoryMb: number, workers: number): number {
  return (workers + 1) * maxMemoryMb;
}
