/** Asking a worker's agent to start its debugger, and saying what went wrong when it could not. */
import * as vscode from 'vscode';
import type { Supervisor } from '../../core/supervisor';
import { DebugpyMissingError, type DebugpySource, showDebugpyMissing } from './debugpy';
import { showServerError } from '../errors';
import { DEBUG_COMMAND_TIMEOUT_MS } from './types';

/** Asks the worker's agent to start debugpy; the path of the Unix socket it listens on. */
export async function startWorkerDebugger(supervisor: Supervisor, slot: number, source: DebugpySource): Promise<string> {
  const reply = await supervisor.requestWorker(slot, { t: 'debug', ...source }, DEBUG_COMMAND_TIMEOUT_MS);
  if (reply.t === 'debug' && typeof reply.path === 'string') return reply.path;
  if (reply.t === 'closed') throw new Error(vscode.l10n.t('Worker {0} of {1} exited before its debugger could attach.', slot, supervisor.name));
  if (reply.code === 'debugpy-missing') throw new DebugpyMissingError(supervisor.currentDefinition.python);
  const detail = typeof reply.error === 'string' ? reply.error : JSON.stringify(reply);
  throw new Error(vscode.l10n.t('Worker {0} of {1} could not start debugpy: {2}', slot, supervisor.name, detail));
}

/** The message for a failed debug start, with the action that fixes it where there is one. Not awaited by callers. */
export async function reportDebugError(error: unknown): Promise<void> {
  if (error instanceof DebugpyMissingError) {
    await showDebugpyMissing(error);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  await showServerError(message.split('\n')[0], error);
}
