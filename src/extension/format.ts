/** How numbers and states read in the tree and tooltips. */
import type { ServerState, WorkerState } from '../core/model';

export function formatBytes(bytes: number): string {
  if (bytes <= 0) return '–';
  const mib = bytes / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(mib >= 100 ? 0 : 1)} MiB`;
}

export function formatCpu(percent: number): string {
  return `${percent.toFixed(percent >= 10 ? 0 : 1)}%`;
}

export function formatUptime(startedAt: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - startedAt) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
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
