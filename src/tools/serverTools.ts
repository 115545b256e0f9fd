/** list_servers and get_request_stats: what the Workers view shows, as data. */
import { requestStats, SERVER_SCHEMA, serverFacts, STATS_SCHEMA } from './facts';
import { findServer, SERVER_FIELD } from './target';
import type { AgentTool } from './types';

const json = (data: unknown) => JSON.stringify(data);

export const listServers: AgentTool = {
  name: 'list_servers',
  title: 'List servers',
  userDescription: 'Lists the servers Server Workers runs: state, URL, master and workers with their CPU, memory, restarts and requests.',
  description: 'Lists the multi-worker Python web servers (Gunicorn, Uvicorn, Granian, Hypercorn) that Server Workers runs here: each one\'s name, state (starting, running, reloading, scaling, failed...), url, masterPid, and its workers by slot (pid, state, uptime, CPU, memory, restarts and the last exit reason, requests served, latency, statuses and those in flight), and its last reload (reloaded, or failed with the file and line). Use it first: it names the servers the other tools take.',
  readOnly: true,
  inputSchema: { type: 'object', additionalProperties: false, properties: {} },
  outputSchema: { type: 'object', required: ['servers'], properties: { servers: { type: 'array', items: SERVER_SCHEMA } } },
  run(_input, host) {
    const now = Date.now();
    const servers = host.servers().map((s) => serverFacts(s.model(), now));
    const summary = servers.length === 0
      ? 'No server runs here. Start one with start_server.'
      : servers.map((s) => `${s.name as string}: ${s.state as string}, ${(s.workers as unknown[]).length} workers, ${s.url as string}`).join('; ');
    return Promise.resolve({ text: `${summary}\n${json({ servers })}`, data: { servers } });
  },
};

export const getRequestStats: AgentTool = {
  name: 'get_request_stats',
  title: 'Get request stats',
  userDescription: 'A server\'s requests per worker and in all: served, per second, latency, statuses, in flight.',
  description: 'A server\'s requests, per worker and summed: served, per second (last 5 s), p50 and p99 latency (last minute), responses by status class, unhandled exceptions, and the requests in flight now with their age (paths without query strings). null when request insight is off or no worker has reported yet.',
  readOnly: true,
  inputSchema: { type: 'object', additionalProperties: false, properties: { server: SERVER_FIELD } },
  outputSchema: STATS_SCHEMA,
  run(input, host) {
    const stats = requestStats(findServer(host, input.server).model());
    return Promise.resolve({ text: json(stats), data: stats });
  },
};
