/**
 * A server's model as the tools give it: plain JSON with the units in the names (uptimeS, rssMb, ageMs), and the
 * schemas that describe it. A request's query string is never given (its path only, as in the Workers view).
 */
import type { ServerModel, WorkerInsight, WorkerModel } from '../core/model';
import { sumInsights } from '../core/workers/insight';
import type { JsonSchema, ObjectSchema } from './types';

const round1 = (n: number) => Math.round(n * 10) / 10;
const withoutQuery = (path: string) => path.split('?')[0];

export function requestsFacts(insight: WorkerInsight, now: number): Record<string, unknown> {
  return {
    served: insight.served,
    rate: insight.rate,
    p50Ms: insight.p50Ms,
    p99Ms: insight.p99Ms,
    statuses: { ...insight.statuses },
    exceptions: insight.exceptions,
    inFlight: insight.requests.map((r) => ({ method: r.method, path: withoutQuery(r.path), ageMs: Math.max(0, Math.round(now - r.startedAt)) })),
  };
}

export function workerFacts(worker: WorkerModel, now: number): Record<string, unknown> {
  return {
    slot: worker.slot,
    pid: worker.pid,
    state: worker.state,
    generation: worker.generation,
    uptimeS: Math.max(0, Math.round((now - worker.startedAt) / 1000)),
    cpuPercent: round1(worker.cpuPercent),
    rssMb: round1(worker.rssBytes / 2 ** 20),
    restarts: worker.restarts,
    lastExit: worker.lastExit?.text ?? null,
    requests: worker.insight ? requestsFacts(worker.insight, now) : null,
    ...(worker.pdb ? { inPdb: { file: worker.pdb.file, line: worker.pdb.line } } : {}),
  };
}

/** The last reload: none yet, reloaded (the generation serving), or failed with the file and line of the error. */
export function reloadFacts(model: ServerModel): Record<string, unknown> {
  const { reload } = model;
  const base = { onSave: reload.onSave, method: reload.method ?? null, generation: reload.generation };
  if (reload.failure) {
    const { file, line, message } = reload.failure;
    return { ...base, outcome: 'failed', file: file ?? null, line: line ?? null, message };
  }
  return { ...base, outcome: reload.generation > 1 ? 'reloaded' : 'none' };
}

export function serverFacts(model: ServerModel, now = Date.now()): Record<string, unknown> {
  return {
    name: model.name,
    kind: model.kind,
    state: model.state,
    url: model.url,
    masterPid: model.master?.pid ?? null,
    desiredWorkers: model.desiredWorkers,
    workers: model.workers.map((w) => workerFacts(w, now)),
    ...(model.retiring.length || model.incoming.length ? { reloading: { retiring: model.retiring.map((w) => w.pid), incoming: model.incoming.map((w) => w.pid) } } : {}),
    lastReload: reloadFacts(model),
    error: model.error ?? null,
  };
}

/** A server's requests per worker and summed (null: request insight is off, or no worker reported yet). */
export function requestStats(model: ServerModel, now = Date.now()): Record<string, unknown> {
  const totals = sumInsights(model.workers);
  return {
    server: model.name,
    workers: model.workers.filter((w) => w.state !== 'exited').map((w) => ({ slot: w.slot, pid: w.pid, requests: w.insight ? requestsFacts(w.insight, now) : null })),
    total: totals ? { served: totals.served, rate: totals.rate, inFlight: totals.inFlight, statuses: totals.statuses, exceptions: totals.exceptions, worstP99Ms: totals.worstP99Ms } : null,
  };
}

// ---- schemas ------------------------------------------------------------------------------------------------------

const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: [schema.type as 'object', 'null'] });
const number: JsonSchema = { type: 'number' };
const integer: JsonSchema = { type: 'integer' };
const string: JsonSchema = { type: 'string' };
// Counts the workers' agents report: numbers (an agent's message is checked to be finite and not negative, no more).
const statuses: JsonSchema = { type: 'object', properties: Object.fromEntries(['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => [c, number])) };

export const REQUESTS_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'The worker\'s requests (request insight): served, per second, latency percentiles of the last minute, statuses, those in flight (path without its query string).',
  required: ['served', 'rate', 'inFlight'],
  properties: {
    served: number, rate: number, p50Ms: nullable(number), p99Ms: nullable(number), statuses, exceptions: number,
    inFlight: { type: 'array', items: { type: 'object', required: ['method', 'path', 'ageMs'], properties: { method: string, path: string, ageMs: integer } } },
  },
};

export const WORKER_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['slot', 'pid', 'state', 'uptimeS', 'cpuPercent', 'rssMb', 'restarts', 'lastExit', 'requests'],
  properties: {
    slot: integer, pid: integer, state: { type: 'string', enum: ['booting', 'ready', 'stopping', 'exited'] }, generation: integer,
    uptimeS: integer, cpuPercent: number, rssMb: number, restarts: integer, lastExit: nullable(string), requests: nullable(REQUESTS_SCHEMA),
    inPdb: { type: 'object', properties: { file: string, line: integer } },
  },
};

export const RELOAD_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['outcome', 'generation'],
  properties: {
    outcome: { type: 'string', enum: ['none', 'reloaded', 'failed'] }, generation: integer, onSave: { type: 'boolean' },
    method: nullable(string), file: nullable(string), line: nullable(integer), message: string,
  },
};

export const SERVER_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['name', 'state', 'url', 'masterPid', 'workers', 'lastReload'],
  properties: {
    name: string, kind: string, state: string, url: string, masterPid: nullable(integer), desiredWorkers: integer,
    workers: { type: 'array', items: WORKER_SCHEMA },
    reloading: { type: 'object', properties: { retiring: { type: 'array', items: integer }, incoming: { type: 'array', items: integer } } },
    lastReload: RELOAD_SCHEMA, error: nullable(string),
  },
};

export const STATS_SCHEMA: ObjectSchema = {
  type: 'object',
  required: ['server', 'workers', 'total'],
  properties: {
    server: string,
    workers: { type: 'array', items: { type: 'object', required: ['slot', 'pid', 'requests'], properties: { slot: integer, pid: integer, requests: nullable(REQUESTS_SCHEMA) } } },
    total: nullable({ type: 'object', properties: { served: number, rate: number, inFlight: number, statuses, exceptions: number, worstP99Ms: nullable(number) } }),
  },
};
