/** How request insight reads in the Workers view: a worker's row and tooltip, a server's sums. */
import * as vscode from 'vscode';
import type { WorkerInsight } from '../core/model';
import { type InsightTotals, nearTimeout, oldestRequest } from '../core/workers/insight';

/** A request older than this makes its worker's row say "busy". */
const BUSY_AFTER_MS = 1000;
const TOOLTIP_REQUESTS = 5;

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1)} ms`;
}

export function formatRate(perSecond: number): string {
  return vscode.l10n.t('{0} req/s', perSecond >= 10 ? Math.round(perSecond) : perSecond.toFixed(1));
}

/** What matters at a glance: "busy 12.4 s: GET /report", or "12 req/s · p99 40 ms"; nothing before a first request. */
export function workerGlance(insight: WorkerInsight, now: number): string | undefined {
  const oldest = oldestRequest(insight, now);
  if (oldest && oldest.ageMs > BUSY_AFTER_MS) {
    return vscode.l10n.t('busy {0}: {1} {2}', formatMs(oldest.ageMs), oldest.request.method, oldest.request.path);
  }
  if (insight.served === 0 && insight.inFlight === 0) return undefined;
  return insight.p99Ms === null ? formatRate(insight.rate) : `${formatRate(insight.rate)} · p99 ${formatMs(insight.p99Ms)}`;
}

/** The worker's oldest request has run past half of Gunicorn's timeout: what the tooltip says, or undefined. */
export function timeoutWarning(insight: WorkerInsight | undefined, now: number): string | undefined {
  if (!insight || !nearTimeout(insight, now)) return undefined;
  const { request, ageMs } = oldestRequest(insight, now)!;
  return vscode.l10n.t('{0} {1} has run {2}, past half of Gunicorn\'s {3} s timeout', request.method, request.path, formatMs(ageMs), insight.timeoutSeconds ?? 0);
}

export function workerInsightLines(insight: WorkerInsight, now: number): string[] {
  const lines = [
    vscode.l10n.t('Requests: {0} served · {1}', insight.served, formatRate(insight.rate)),
    insight.p50Ms === null || insight.p99Ms === null
      ? vscode.l10n.t('Latency: no request ended in the last minute')
      : vscode.l10n.t('Latency over the last minute ({0} requests): p50 {1} · p99 {2}', insight.latencyCount, formatMs(insight.p50Ms), formatMs(insight.p99Ms)),
    responsesLine(insight.statuses, insight.exceptions),
    vscode.l10n.t('In flight: {0}', insight.inFlight),
    ...insight.requests.slice(0, TOOLTIP_REQUESTS).map((r) => `    ${r.method} ${r.path} (${formatMs(Math.max(0, now - r.startedAt))})`),
  ];
  if (insight.inFlight > TOOLTIP_REQUESTS) lines.push(`    … ${vscode.l10n.t('{0} more', insight.inFlight - TOOLTIP_REQUESTS)}`);
  return lines;
}

export function serverGlance(totals: InsightTotals): string {
  return totals.inFlight > 0 ? vscode.l10n.t('{0} · {1} in flight', formatRate(totals.rate), totals.inFlight) : formatRate(totals.rate);
}

export function serverInsightLines(totals: InsightTotals): string[] {
  const lines = [
    vscode.l10n.t('Requests of {0} workers: {1} served · {2} · {3} in flight', totals.workers, totals.served, formatRate(totals.rate), totals.inFlight),
    responsesLine(totals.statuses, totals.exceptions),
  ];
  if (totals.worstP99Ms !== null) lines.push(vscode.l10n.t('Slowest worker\'s p99 over the last minute: {0}', formatMs(totals.worstP99Ms)));
  return lines;
}

function responsesLine(statuses: WorkerInsight['statuses'], exceptions: number): string {
  return vscode.l10n.t('Responses: 2xx {0} · 3xx {1} · 4xx {2} · 5xx {3} · unhandled exceptions {4}', statuses['2xx'], statuses['3xx'], statuses['4xx'], statuses['5xx'], exceptions);
}
