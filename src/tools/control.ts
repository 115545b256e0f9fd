/** The tools that change a server: reload_server, scale_workers, kill_worker, restart_server, stop_server. */
import { MAX_WORKERS } from '../core/definition';
import type { ReloadEvent } from '../core/supervisor';
import { SERVER_SCHEMA, serverFacts, WORKER_SCHEMA, workerFacts } from './facts';
import { findServer, findWorker, SERVER_FIELD, WORKER_SLOT_FIELD } from './target';
import { type AgentTool, type ObjectSchema, OUTPUT_IS_DATA } from './types';

const SERVER_ONLY: ObjectSchema = { type: 'object', additionalProperties: false, properties: { server: SERVER_FIELD } };
const SERVER_ANSWER: ObjectSchema = { type: 'object', required: ['server'], properties: { server: SERVER_SCHEMA } };
/** The failed reload's traceback: at most this many of its last lines. */
const DETAIL_LINES = 40;

const json = (data: unknown) => JSON.stringify(data);

export const reloadServer: AgentTool = {
  name: 'reload_server',
  title: 'Reload server',
  userDescription: 'Replaces every worker with new ones running the code on disk; the old ones serve until the new ones are ready.',
  description: 'Reloads a server: new workers import the code on disk and take over once ready; if the new code does not boot, the reload fails with the file, line and error, and the old workers keep serving. Returns reloaded (the generation serving, how long it took) or failed (file, line, message, the error\'s last lines). ' + OUTPUT_IS_DATA,
  readOnly: false,
  inputSchema: SERVER_ONLY,
  outputSchema: {
    type: 'object',
    required: ['server', 'outcome', 'generation'],
    properties: {
      server: { type: 'string' },
      outcome: { type: 'string', enum: ['reloaded', 'failed'] },
      generation: { type: 'integer', description: 'The generation serving now.' },
      seconds: { type: 'number' },
      method: { type: 'string' },
      file: { type: ['string', 'null'] },
      line: { type: ['integer', 'null'] },
      message: { type: 'string' },
      details: { type: 'string', description: 'The traceback or the failing worker\'s last lines.' },
      servingPids: { type: 'array', items: { type: 'integer' } },
    },
  },
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    let last: Exclude<ReloadEvent, { type: 'started' }> | undefined;
    const off = supervisor.onReload.on((event) => {
      if (event.type !== 'started') last = event;
    });
    try {
      await supervisor.reload();
    } catch (error) {
      if (last?.type !== 'failed') throw error;
    } finally {
      off();
    }
    if (last?.type === 'failed') {
      const { failure, serving, method, seconds } = last;
      const details = failure.details.split('\n').slice(-DETAIL_LINES).join('\n');
      const data = { server: supervisor.name, outcome: 'failed', generation: serving.generation, seconds, method, file: failure.file ?? null, line: failure.line ?? null, message: failure.message, details, servingPids: serving.pids };
      const where = failure.file ? ` at ${failure.file}${failure.line ? `:${failure.line}` : ''}` : '';
      return { text: `Reload of ${supervisor.name} failed${where}: ${failure.message}. Generation ${serving.generation} keeps serving (pids ${serving.pids.join(', ') || 'none'}).\n${details}`, data };
    }
    const generation = last?.generation ?? supervisor.model().reload.generation;
    const data = { server: supervisor.name, outcome: 'reloaded', generation, seconds: last?.seconds ?? 0, method: last?.method ?? supervisor.model().reload.method ?? 'restart' };
    return { text: `${supervisor.name} reloaded: generation ${generation} serving (${(last?.seconds ?? 0).toFixed(2)} s).`, data };
  },
};

export const scaleWorkers: AgentTool = {
  name: 'scale_workers',
  title: 'Scale workers',
  userDescription: 'Changes a server\'s number of workers.',
  description: 'Scales a server to a number of workers (1 to 64); returns when exactly that many are ready. Gunicorn and Uvicorn add and remove workers while serving; Granian and Hypercorn restart with the new count.',
  readOnly: false,
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['workers'],
    properties: { server: SERVER_FIELD, workers: { type: 'integer', minimum: 1, maximum: MAX_WORKERS, description: `The number of workers wanted (1 to ${MAX_WORKERS}).` } },
  },
  outputSchema: { type: 'object', required: ['server', 'from', 'workers'], properties: { server: { type: 'string' }, from: { type: 'integer' }, workers: { type: 'array', items: WORKER_SCHEMA } } },
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    const from = supervisor.currentDefinition.workers;
    await supervisor.scale(input.workers as number);
    const now = Date.now();
    const workers = supervisor.model().workers.map((w) => workerFacts(w, now));
    return { text: `${supervisor.name} scaled from ${from} to ${workers.length} workers.\n${json(workers)}`, data: { server: supervisor.name, from, workers } };
  },
};

export const killWorker: AgentTool = {
  name: 'kill_worker',
  title: 'Kill worker',
  userDescription: 'Kills one worker of a server; the server starts its replacement in the same slot.',
  description: 'Kills the worker in a slot (SIGKILL; graceful: SIGTERM, it finishes its requests first) and returns once its replacement is ready, in the same slot with one more restart. Hypercorn stops every worker when one dies.',
  readOnly: false,
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['slot'],
    properties: { server: SERVER_FIELD, slot: WORKER_SLOT_FIELD, graceful: { type: 'boolean', description: 'SIGTERM instead of SIGKILL: the worker finishes its requests first.' } },
  },
  outputSchema: {
    type: 'object',
    required: ['server', 'slot', 'killedPid', 'replacement'],
    properties: { server: { type: 'string' }, slot: { type: 'integer' }, killedPid: { type: 'integer' }, replacement: { type: ['object', 'null'], properties: WORKER_SCHEMA.properties } },
  },
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    const slot = input.slot as number;
    const killed = findWorker(supervisor, slot);
    await supervisor.killWorker(slot, input.graceful === true ? 'SIGTERM' : 'SIGKILL');
    const successor = supervisor.model().workers.find((w) => w.slot === slot && w.pid !== killed.pid && w.state !== 'exited');
    const replacement = successor ? workerFacts(successor, Date.now()) : null;
    const text = replacement
      ? `Worker ${slot} of ${supervisor.name} (pid ${killed.pid}) was killed; pid ${successor!.pid} replaces it (restarts: ${successor!.restarts}).`
      : `Worker ${slot} of ${supervisor.name} (pid ${killed.pid}) was killed; no replacement (the server is ${supervisor.serverState}).`;
    return { text, data: { server: supervisor.name, slot, killedPid: killed.pid, replacement } };
  },
};

export const restartServer: AgentTool = {
  name: 'restart_server',
  title: 'Restart server',
  userDescription: 'Stops a server and starts it again with the same definition.',
  description: 'Restarts a server (or starts again one that failed or stopped): every process stops (requests in flight finish first, up to the graceful timeout), then the master and its workers start again; returns once every worker is ready. Prefer reload_server for new code: it keeps serving.',
  readOnly: false,
  inputSchema: SERVER_ONLY,
  outputSchema: SERVER_ANSWER,
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    await supervisor.restart();
    const server = serverFacts(supervisor.model());
    return { text: `${supervisor.name} restarted: master pid ${server.masterPid as number}, ${(server.workers as unknown[]).length} workers ready at ${server.url as string}.\n${json(server)}`, data: { server } };
  },
};

export const stopServer: AgentTool = {
  name: 'stop_server',
  title: 'Stop server',
  userDescription: 'Stops a server: its master and every worker.',
  description: 'Stops a server: SIGTERM to the master and its workers (requests in flight finish, up to the graceful timeout), then SIGKILL to whatever is left; returns when no process of it remains, and forgets it.',
  readOnly: false,
  inputSchema: SERVER_ONLY,
  outputSchema: { type: 'object', required: ['server', 'stopped'], properties: { server: { type: 'string' }, stopped: { type: 'boolean' }, pids: { type: 'array', items: { type: 'integer' } } } },
  async run(input, host) {
    const supervisor = findServer(host, input.server);
    const pids = supervisor.knownPids();
    await host.stop(supervisor);
    return { text: `${supervisor.name} stopped: pids ${pids.join(', ') || 'none'} are gone.`, data: { server: supervisor.name, stopped: true, pids } };
  },
};
