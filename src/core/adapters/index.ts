import { type ServerKind, SERVER_KINDS } from '../definition';
import type { PythonEnvironment } from '../pythonEnvironment';
import type { ServerAdapter } from './adapter';
import { granianAdapter } from './granian';
import { gunicornAdapter } from './gunicorn';
import { hypercornAdapter } from './hypercorn';
import { uvicornAdapter } from './uvicorn';

export type { Capabilities, RunTraits, ServerAdapter } from './adapter';

const ADAPTERS: Record<ServerKind, ServerAdapter> = { gunicorn: gunicornAdapter, uvicorn: uvicornAdapter, granian: granianAdapter, hypercorn: hypercornAdapter };

export function adapterFor(kind: ServerKind): ServerAdapter {
  return ADAPTERS[kind];
}

/** The server kinds whose package the interpreter has. */
export function installedServers(env: PythonEnvironment): ServerKind[] {
  return SERVER_KINDS.filter((kind) => env.packages[ADAPTERS[kind].packageName] !== undefined);
}
