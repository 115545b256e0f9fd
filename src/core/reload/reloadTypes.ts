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

/** `skippedBreakpoints`: breakpoint() calls the import check passed over (file:line); the new workers stop at them. */
export type ReloadOutcome = { ok: true; skippedBreakpoints?: string[] } | { ok: false; failure: Omit<ReloadFailure, 'servingGeneration'> };

/** What a reload method may use: the run it replaces the workers of, the server's waiters and definition. */
export interface MethodContext {
  run: ServerRun;
  definition: ResolvedDefinition;
  waiters: Waiters;
  /** How long the new code may take to boot (import and startup) before the reload is refused: the reload timeout. */
  bootLimitSeconds: number;
  /** Publishes a new model (after the table changed outside a reported event). */
  changed(): void;
  /** The output of the current reload's new workers that died booting: why the new code did not boot. */
  failureOfNewWorkers(): Promise<Omit<ReloadFailure, 'servingGeneration'>>;
  /** The new workers still booting when the time was up: their stacks dumped, then ended with what they started. */
  endHungWorkers(): Promise<Omit<ReloadFailure, 'servingGeneration'>>;
}

/** How long a reload waits for the old generation to finish its requests and exit, once the new one serves. */
export function retireTimeoutMs(definition: ResolvedDefinition): number {
  return (definition.gracefulTimeout + 60) * 1000;
}

/** The reload timeout when neither the definition (`reloadTimeout`) nor the settings say: seconds. */
export const DEFAULT_RELOAD_TIMEOUT = 60;
