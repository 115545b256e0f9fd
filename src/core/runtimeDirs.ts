/**
 * A server's private runtime folder (the agent's socket, Gunicorn's control socket): one per run, removed by the
 * supervisor's stop. A supervisor killed outright (an extension host's SIGKILL) cannot remove its own; the next one
 * to start sweeps those.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const PREFIX = 'server-workers-';
const AGENT_SOCKET = 'agent.sock';
/** A folder younger than this is never swept: its supervisor may be between creating it and listening in it. */
const SWEEP_MIN_AGE_MS = 60_000;

export function createRuntimeDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), PREFIX));
  fs.chmodSync(dir, 0o700);
  return dir;
}

export function agentSocketPath(runtimeDir: string): string {
  return path.join(runtimeDir, AGENT_SOCKET);
}

/**
 * Removes the runtime folders that dead supervisors left: this user's, old enough, whose agent socket no longer
 * accepts a connection (a live supervisor's always does). Folders without an agent socket are left alone. Resolves
 * with the folders removed.
 */
export async function sweepAbandonedRuntimeDirs(minAgeMs = SWEEP_MIN_AGE_MS, tmp = os.tmpdir()): Promise<string[]> {
  const uid = process.getuid?.();
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp).filter((name) => name.startsWith(PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const stat = fs.lstatSync(dir);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || Date.now() - stat.mtimeMs < minAgeMs) continue;
      const socket = agentSocketPath(dir);
      if (!fs.existsSync(socket) || (await acceptsConnections(socket))) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // its owner, or another sweep, got there first
    }
  }
  return removed;
}

function acceptsConnections(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = net.connect(socketPath);
    const settle = (accepts: boolean) => {
      client.destroy();
      resolve(accepts);
    };
    client.once('connect', () => settle(true));
    client.once('error', (error: NodeJS.ErrnoException) => settle(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'));
    client.setTimeout(1000, () => settle(true));
  });
}
