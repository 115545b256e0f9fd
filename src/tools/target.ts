/** Which server and which worker a tool's input names: found, or a ToolError that lists what there is. */
import type { ServerModel, WorkerModel } from '../core/model';
import type { Supervisor } from '../core/supervisor';
import { type JsonSchema, type ToolHost, ToolError } from './types';

export const SERVER_FIELD: JsonSchema = {
  type: 'string',
  minLength: 1,
  description: 'The server\'s name as list_servers gives it; may be left out when exactly one server runs.',
};

export const WORKER_SLOT_FIELD: JsonSchema = {
  type: 'integer',
  minimum: 1,
  maximum: 64,
  description: 'The worker\'s slot (1, 2, ...), as list_servers gives it; a replacement keeps its slot.',
};

const live = (supervisor: Supervisor) => supervisor.serverState !== 'stopped' && supervisor.serverState !== 'failed';

function named(servers: readonly Supervisor[]): string {
  return servers.map((s) => `"${s.name}" (${s.serverState})`).join(', ');
}

/**
 * The server `name` names; with no name, the one server that runs (or, when none runs, the only one there is). A
 * server of that name that runs wins over a failed one of the same name.
 */
export function findServer(host: ToolHost, name: unknown): Supervisor {
  const servers = host.servers();
  if (typeof name === 'string') {
    const matches = servers.filter((s) => s.name === name);
    const found = matches.find(live) ?? matches[0];
    if (found) return found;
    throw new ToolError(servers.length === 0
      ? `No server named "${name}": no server runs here. Start one with start_server.`
      : `No server named "${name}". The servers here: ${named(servers)}. Give one of these names.`);
  }
  const running = servers.filter(live);
  if (running.length === 1) return running[0];
  if (running.length === 0 && servers.length === 1) return servers[0];
  if (servers.length === 0) throw new ToolError('No server runs here. Start one with start_server.');
  throw new ToolError(`${running.length || servers.length} servers are here (${named(running.length ? running : servers)}): say which one with "server".`);
}

/** The live worker in `slot` of the server's model (exited rows wait for their replacement). */
export function findWorker(supervisor: Supervisor, slot: number): WorkerModel {
  const model = supervisor.model();
  const worker = model.workers.find((w) => w.slot === slot);
  if (worker && worker.state !== 'exited') return worker;
  throw new ToolError(`${supervisor.name} has no running worker in slot ${slot}${worker ? ' (it exited and waits for its replacement)' : ''}. ${workerSlots(model)}`);
}

/** "Its workers are in slots 1, 2, 3 (slot 0 is the master)." */
export function workerSlots(model: ServerModel): string {
  const slots = model.workers.filter((w) => w.state !== 'exited').map((w) => w.slot);
  if (slots.length === 0) return `It has no running worker (it is ${model.state}).`;
  return `Its workers are in slot${slots.length === 1 ? '' : 's'} ${slots.join(', ')} (slot 0 is the master).`;
}

export function firstLine(text: string): string {
  const end = text.indexOf('\n');
  return end < 0 ? text : text.slice(0, end);
}
