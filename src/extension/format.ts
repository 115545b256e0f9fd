/** How numbers and states read in the tree and tooltips. */
import type { ServerModel, ServerState, WorkerState } from '../core/model';

export function formatBytes(bytes: number): string {
  if (bytes <= 0) return '–';
  const mib = bytes / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(mib >= 100 ? 0 : 1)} MiB`;
}

export function formatCpu(percent: number): string {
  return `${percent.toFixed(percent >= 10 ? 0 : 1)}%`;
}

/** Seconds in the first minute, then minutes: past a minute the text (and the row) changes once a minute. */
export function formatUptime(startedAt: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - startedAt) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function serverStateIcon(state: ServerState): { icon: string; color?: string } {
  switch (state) {
    case 'running':
      return { icon: 'pass-filled', color: 'testing.iconPassed' };
    case 'failed':
      return { icon: 'error', color: 'testing.iconFailed' };
    case 'stopped':
      return { icon: 'circle-outline' };
    default:
      return { icon: 'loading~spin' };
  }
}

export function workerStateIcon(state: WorkerState): { icon: string; color?: string } {
  switch (state) {
    case 'ready':
      return { icon: 'circle-filled', color: 'testing.iconPassed' };
    case 'booting':
      return { icon: 'loading~spin' };
    case 'stopping':
      return { icon: 'debug-pause' };
    case 'exited':
      return { icon: 'circle-slash', color: 'testing.iconFailed' };
  }
}

/**
 * How soon time changes a row's text: a second in a process's first minute (its uptime in seconds) or while a worker
 * has a request in flight (its age); else a minute (uptime in minutes, hours, days).
 */
export function timeMovesRowsIn(model: ServerModel, now: number): number {
  if (model.master && now - model.master.startedAt < MINUTE_MS) return 1000;
  for (const workers of [model.workers, model.retiring, model.incoming]) {
    for (const w of workers) if (w.state !== 'exited' && (now - w.startedAt < MINUTE_MS || (w.insight?.inFlight ?? 0) > 0)) return 1000;
  }
  return MINUTE_MS;
}

const MINUTE_MS = 60_000;
