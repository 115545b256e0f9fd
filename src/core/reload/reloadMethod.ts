/** Which way a server reloads, and why it restarts when it must. */
import type { Capabilities } from '../adapters';
import type { ResolvedDefinition } from '../definition';
import type { ReloadMethod } from './reloadTypes';

export interface MasterFacts {
  /** The agent's boot guard runs in the master (Gunicorn). */
  guarding: boolean;
  /** Gunicorn loads the app in the master (--preload, preload_app). */
  preload: boolean;
  /** Uvicorn's SIGHUP replaces its workers only once their successors are ready (the agent's, on Uvicorn 0.51+). */
  rolling: boolean;
}

export interface MethodChoice {
  method: ReloadMethod;
  /** Said once, in the master's channel and the server's tooltip, when the method is a restart. */
  restartBecause?: string;
  /** The server's own reload cannot keep the old workers when the new code does not boot: import the app first. */
  importCheckFirst?: boolean;
  /** What the server's own reload costs, said once in the master's channel. */
  caveat?: string;
}

const AGENT_OFF = 'the in-worker agent is off (serverWorkers.agent): without it a reload cannot tell when new workers are ready, so it restarts the whole server';

export function chooseReloadMethod(definition: ResolvedDefinition, capabilities: Capabilities, facts: MasterFacts | undefined): MethodChoice {
  const restart = (because: string): MethodChoice => ({ method: 'restart', restartBecause: because });
  if (definition.server === 'granian') {
    // SIGHUP: each worker's successor starts first; Granian stops the old one after --respawn-interval, ready or not.
    return facts ? { method: 'rolling', importCheckFirst: true } : restart(AGENT_OFF);
  }
  if (definition.server === 'hypercorn') {
    if (capabilities.reload !== 'signal') return restart('Hypercorn before 0.18 takes no SIGHUP (the signal would stop it), so a reload restarts the whole server');
    if (!facts) return restart(AGENT_OFF);
    return {
      method: 'signal',
      importCheckFirst: true,
      caveat: 'Hypercorn stops every worker before it starts the new ones (SIGHUP): new requests wait in the listen queue until the new workers are ready',
    };
  }
  if (definition.server === 'uvicorn') {
    if (definition.workers === 1) return restart('Uvicorn with one worker runs without its process manager, so a reload restarts it');
    if (capabilities.reload !== 'signal') return restart('Uvicorn before 0.30 cannot replace its workers one at a time, so a reload restarts the whole server');
    if (!facts) return restart(AGENT_OFF);
    if (facts.rolling) return { method: 'rolling' };
    return restart('Uvicorn before 0.51 stops a worker before its replacement is ready (on SIGHUP), so a reload restarts the whole server');
  }
  const preload = facts?.preload ?? definition.args.includes('--preload');
  if (preload) return restart('Gunicorn loads the app in its master (--preload / preload_app): new workers would fork the old code, so a reload restarts the whole server');
  if (!facts?.guarding) return restart(AGENT_OFF);
  if (!capabilities.controlSocket) return restart('this Gunicorn has no control socket (25.1 or later has one), so a reload restarts the whole server');
  return { method: 'swap' };
}

/** The master imports the workers' libraries first, so that its next workers start with them (Gunicorn and Granian fork
 * them; the agent has Uvicorn and Hypercorn fork them instead of spawning them). */
export function warmsMaster(choice: MethodChoice, definition: ResolvedDefinition): boolean {
  if (choice.method === 'swap') return true;
  return choice.method !== 'restart' && ['uvicorn', 'hypercorn', 'granian'].includes(definition.server);
}
