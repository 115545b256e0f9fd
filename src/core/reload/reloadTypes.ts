/** What the reload parts share: the events a reload sends, what a method returns, what it may use of its server. */
import type { ResolvedDefinition } from '../definition';
import type { ReloadFailure, ReloadModel } from '../model';
import type { ServerRun } from '../serverRun';
import type { Waiters } from '../waiters';

export type ReloadMethod = NonNullable<ReloadModel['method']>;

export type ReloadEvent =
  /** `files`: the changed files that caused it (none for the command, the tree's button, the CLI's {"cmd":"reload"}). */
  | { type: 'started'; files: string[]; method: ReloadMethod; generation: number }
  | { type: 'reloaded'; method: ReloadMethod; generation: number; seconds: number }
  /** The previous code is still serving: `serving` are its workers. */
  | { type: 'failed'; method: ReloadMethod; failure: ReloadFailure; seconds: number; serving: { generation: number; pids: number[] } };

export type ReloadOutcome = { ok: true } | { ok: false; failure: Omit<ReloadFailure, 'servingGeneration'> };

/** What a reload method may use: the run it replaces the workers of, the server's waiters and definition. */
export interface MethodContext {
  run: ServerRun;
  definition: ResolvedDefinition;
  waiters: Waiters;
  /** Publishes a new model (after the table changed outside a reported event). */
  changed(): void;
  /** The output of the current reload's new workers that died booting: why the new code did not boot. */
  failureOfNewWorkers(): Promise<Omit<ReloadFailure, 'servingGeneration'>>;
}

/** How long a reload waits for its new workers: their boot, and the old ones' graceful stop. */
export function reloadTimeoutMs(definition: ResolvedDefinition): number {
  return (definition.gracefulTimeout + 60) * 1000;
}
