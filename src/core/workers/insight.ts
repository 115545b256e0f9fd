/**
 * Request insight, the core's side: the agent's `insight` summaries (docs/agent-protocol.md) read into the model's
 * `WorkerInsight`, each worker's latest kept by pid (its exit reason names the request it timed out on, also after its
 * slot has a successor), and the figures the views derive from it: a server's sums, a worker's oldest request, and
 * whether that request has run past half of Gunicorn's timeout. Pure: callers pass the time.
 */
import type { AgentMessage } from '../agent/agentServer';
import {
  type DurationHistogram, type InFlightRequest, type InsightInterval, type SlowRequest, STATUS_CLASSES, type StatusClass, type WorkerInsight,
  type WorkerModel,
} from '../model';

/** Requests a summary may list (the agent sends at most 20). */
const MAX_REQUESTS = 20;
/** Slowest requests of an interval a summary may list (the agent sends at most 5). */
const MAX_SLOWEST = 5;
/** Histogram buckets a summary may carry (the agent sends 16). */
const MAX_BUCKETS = 64;
const MAX_TEXT = 200;
/** Workers whose latest summary is kept after they exit: a successor's hello can come before its predecessor's exit. */
const MAX_KEPT = 256;

export class WorkerInsights {
  private readonly latest = new Map<number, WorkerInsight>();

  /** A summary from `pid`'s agent; the insight it gives, or undefined when the message is not a valid summary. */
  record(pid: number, message: AgentMessage): WorkerInsight | undefined {
    const insight = parseInsight(message);
    if (!insight) return undefined;
    this.latest.delete(pid);
    this.latest.set(pid, insight);
    if (this.latest.size > MAX_KEPT) this.latest.delete(this.latest.keys().next().value!);
    return insight;
  }

  /** The request `pid` was on at `now`, as an exit reason says it: "GET /report, 31.0 s". */
  requestAt(pid: number, now: number): string | undefined {
    const oldest = this.latest.get(pid)?.requests[0];
    return oldest && `${oldest.method} ${oldest.path}, ${formatSeconds(now - oldest.startedAt)}`;
  }

  clear(): void {
    this.latest.clear();
  }
}

function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

/** An agent's `insight` message, checked field by field (it comes from a process of the server). */
export function parseInsight(message: AgentMessage): WorkerInsight | undefined {
  if (message.t !== 'insight') return undefined;
  const count = (value: unknown) => (isCount(value) ? value : undefined);
  const served = count(message.served);
  const rate = count(message.rate);
  const inFlight = count(message.inFlight);
  const statuses = message.statuses;
  if (served === undefined || rate === undefined || inFlight === undefined || typeof statuses !== 'object' || statuses === null) return undefined;
  const classes = Object.fromEntries(STATUS_CLASSES.map((c) => [c, count((statuses as Record<string, unknown>)[c]) ?? 0])) as Record<StatusClass, number>;
  const requests = Array.isArray(message.requests) ? message.requests.slice(0, MAX_REQUESTS).flatMap(parseRequest) : [];
  const milliseconds = (value: unknown) => count(value) ?? null;
  const timeoutSeconds = count(message.timeoutSeconds);
  const durations = parseDurations(message.durations);
  const interval = parseInterval(message.interval);
  return Object.freeze({
    served,
    rate,
    p50Ms: milliseconds(message.p50Ms),
    p99Ms: milliseconds(message.p99Ms),
    latencyCount: count(message.latencyCount) ?? 0,
    statuses: Object.freeze(classes),
    exceptions: count(message.exceptions) ?? 0,
    inFlight,
    requests: Object.freeze(requests),
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    ...(durations ? { durations } : {}),
    ...(interval ? { interval } : {}),
  });
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** The histogram: increasing bounds, one more count than bounds (the +Inf bucket), whole counts. */
function parseDurations(value: unknown): DurationHistogram | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { le, counts, sumSeconds } = value as Record<string, unknown>;
  if (!Array.isArray(le) || !Array.isArray(counts) || le.length === 0 || le.length > MAX_BUCKETS || counts.length !== le.length + 1) return undefined;
  const bounds = le as unknown[];
  const perBucket = counts as unknown[];
  if (!bounds.every((bound, i): bound is number => isCount(bound) && (i === 0 || bound > (bounds[i - 1] as number)))) return undefined;
  if (!perBucket.every((c): c is number => isCount(c) && Number.isInteger(c)) || !isCount(sumSeconds)) return undefined;
  return Object.freeze({ le: Object.freeze([...bounds]), counts: Object.freeze([...perBucket]), sumSeconds });
}

function parseInterval(value: unknown): InsightInterval | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { count, p50Ms, p99Ms, slowest } = value as Record<string, unknown>;
  if (!isCount(count)) return undefined;
  const slow = Array.isArray(slowest) ? slowest.slice(0, MAX_SLOWEST).flatMap(parseSlowRequest) : [];
  return Object.freeze({ count, p50Ms: isCount(p50Ms) ? p50Ms : null, p99Ms: isCount(p99Ms) ? p99Ms : null, slowest: Object.freeze(slow) });
}

function parseSlowRequest(value: unknown): SlowRequest[] {
  if (typeof value !== 'object' || value === null) return [];
  const { method, path, status, ms, endedAt } = value as Record<string, unknown>;
  if (typeof method !== 'string' || typeof path !== 'string' || !isCount(status) || !isCount(ms) || !isCount(endedAt)) return [];
  return [Object.freeze({ method: method.slice(0, 16), path: path.slice(0, MAX_TEXT), status, ms, endedAt })];
}

function parseRequest(value: unknown): InFlightRequest[] {
  if (typeof value !== 'object' || value === null) return [];
  const { method, path, startedAt } = value as Record<string, unknown>;
  if (typeof method !== 'string' || typeof path !== 'string' || typeof startedAt !== 'number' || !Number.isFinite(startedAt)) return [];
  return [Object.freeze({ method: method.slice(0, 16), path: path.slice(0, MAX_TEXT), startedAt })];
}

/** A server's figures: the sums of its live workers', the worst p99. */
export interface InsightTotals {
  workers: number;
  served: number;
  rate: number;
  inFlight: number;
  statuses: Record<StatusClass, number>;
  exceptions: number;
  /** The highest p99 of the workers (null when none has one). */
  worstP99Ms: number | null;
}

export function sumInsights(workers: readonly WorkerModel[]): InsightTotals | undefined {
  const insights = workers.filter((w) => w.state !== 'exited').flatMap((w) => (w.insight ? [w.insight] : []));
  if (insights.length === 0) return undefined;
  const statuses = Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as Record<StatusClass, number>;
  let worstP99Ms: number | null = null;
  for (const insight of insights) {
    for (const c of STATUS_CLASSES) statuses[c] += insight.statuses[c];
    if (insight.p99Ms !== null && (worstP99Ms === null || insight.p99Ms > worstP99Ms)) worstP99Ms = insight.p99Ms;
  }
  const sum = (pick: (i: WorkerInsight) => number) => insights.reduce((total, i) => total + pick(i), 0);
  return {
    workers: insights.length,
    served: sum((i) => i.served),
    rate: Math.round(sum((i) => i.rate) * 10) / 10,
    inFlight: sum((i) => i.inFlight),
    statuses,
    exceptions: sum((i) => i.exceptions),
    worstP99Ms,
  };
}

/** The oldest request in flight and its age at `now` (ms). */
export function oldestRequest(insight: WorkerInsight | undefined, now: number): { request: InFlightRequest; ageMs: number } | undefined {
  const request = insight?.requests[0];
  return request && { request, ageMs: Math.max(0, now - request.startedAt) };
}

/** The oldest request in flight has run past half of Gunicorn's timeout (when the worker has one). */
export function nearTimeout(insight: WorkerInsight | undefined, now: number): boolean {
  const oldest = oldestRequest(insight, now);
  const timeout = insight?.timeoutSeconds;
  return oldest !== undefined && timeout !== undefined && timeout > 0 && oldest.ageMs > (timeout * 1000) / 2;
}
