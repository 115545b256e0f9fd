import type { ServerKind } from '../definition';
import type { ServerAdapter } from './adapter';
import { gunicornAdapter } from './gunicorn';
import { uvicornAdapter } from './uvicorn';

export type { Capabilities, ServerAdapter } from './adapter';

const ADAPTERS: Record<ServerKind, ServerAdapter> = { gunicorn: gunicornAdapter, uvicorn: uvicornAdapter };

export function adapterFor(kind: ServerKind): ServerAdapter {
  return ADAPTERS[kind];
}
