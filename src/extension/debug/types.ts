/** What the debugging parts share: the debug type, the configuration's private part, the timings. */
import type * as vscode from 'vscode';

export const DEBUG_TYPE = 'serverworkers';
/** Seconds a worker held at boot waits for its debugger before it boots without one. */
export const CLIENT_WAIT_SECONDS = 120;
/** How long the agent may take to start debugpy. */
export const DEBUG_COMMAND_TIMEOUT_MS = 90000;
/** A launched server may sit at a startup breakpoint for long: its start() must not time out meanwhile. */
export const LAUNCH_BOOT_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** A worker whose debugger listens: where the session connects. */
export interface Listening {
  slot: number;
  pid: number;
  /** The worker's debugger socket (debugpy's own DAP server, in the server's private runtime folder). */
  socketPath: string;
}

/** What a resolved configuration carries to the adapter factory and the session's end. */
export interface SessionTarget extends Listening {
  serverId: string;
  recycle: boolean;
  /** The launch this session belongs to. */
  launchId?: string;
  /** The launch's own session (not a child): its end ends the launch. */
  main?: boolean;
}

export interface ServerWorkersDebugConfiguration extends vscode.DebugConfiguration {
  debugWorkers?: unknown;
  justMyCode?: boolean;
  recycleWorker?: boolean;
  stopServerOnEnd?: boolean;
  __serverWorkers?: SessionTarget;
}

/** The worker a session debugs, from its configuration. */
export function targetOf(session: vscode.DebugSession): SessionTarget | undefined {
  return (session.configuration as ServerWorkersDebugConfiguration).__serverWorkers;
}
