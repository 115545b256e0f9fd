/**
 * A server's private runtime folder (the agent's socket, Gunicorn's control socket): one per run, removed by the
 * supervisor's stop. A supervisor killed outright (an extension host's SIGKILL) cannot remove its own; the next one
 * to start sweeps those.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { identityOf, isSameProcessAlive, type ProcessIdentity } from './procfs';

const PREFIX = 'server-workers-';
const AGENT_SOCKET = 'agent.sock';
/** The supervising process that made the folder: while it runs, the folder is in use. */
const OWNER_FILE = 'owner.json';
/** A folder younger than this is never swept: its supervisor may be between creating it and listening in it. */
const SWEEP_MIN_AGE_MS = 60_000;

/** A Unix socket's path holds at most 107 bytes (Linux's sun_path, 108 with its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
/** The longest socket name the folder holds: a worker's debugger, `dbg-<pid>.sock` with a 7-digit pid. */
const LONGEST_SOCKET_NAME = 'dbg-4194304.sock';
const FALLBACK_TMP = '/tmp';

/** The folders runtime folders are made in: the system's temporary folder, and /tmp when that one's path is too long. */
export function runtimeDirParents(): string[] {
  return [...new Set([os.tmpdir(), FALLBACK_TMP])];
}

/**
 * Makes the private (0700) runtime folder of a run in the temporary folder, or in /tmp when the temporary folder's path
 * is too long for the sockets inside it (a long TMPDIR). Throws an error that says what to change when neither fits.
 */
export function createRuntimeDir(): string {
  const parent = runtimeDirParents().find((dir) => fitsSocketPaths(dir) && isWritableDir(dir));
  if (parent === undefined) {
    throw new Error(`The temporary folder "${os.tmpdir()}" has too long a path for the Unix sockets Server Workers makes in it (at most ${MAX_SOCKET_PATH_BYTES} bytes each), and ${FALLBACK_TMP} cannot be used instead. Set TMPDIR to a shorter folder, such as ${FALLBACK_TMP}.`);
  }
  const dir = fs.mkdtempSync(path.join(parent, PREFIX));
  fs.chmodSync(dir, 0o700);
  const owner = identityOf(process.pid);
  if (owner) fs.writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
  return dir;
}

/** mkdtemp's name in `parent`, then a socket in it, fits a Unix socket path. */
function fitsSocketPaths(parent: string): boolean {
  const longest = path.join(parent, `${PREFIX}XXXXXX`, LONGEST_SOCKET_NAME);
  return Buffer.byteLength(longest) <= MAX_SOCKET_PATH_BYTES;
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function agentSocketPath(runtimeDir: string): string {
  return path.join(runtimeDir, AGENT_SOCKET);
}

/**
 * Removes the runtime folders that dead supervisors left: this user's, old enough, whose owner (the supervising process
 * named in the folder) has exited. A folder without an owner file (an older version's) is abandoned when its agent
 * socket refuses connections, or when it has none. Resolves with the folders removed.
 */
export async function sweepAbandonedRuntimeDirs(minAgeMs = SWEEP_MIN_AGE_MS, parents = runtimeDirParents()): Promise<string[]> {
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const dir of listRuntimeDirs(parents)) {
    try {
      const stat = fs.lstatSync(dir);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || Date.now() - stat.mtimeMs < minAgeMs) continue;
      if (!(await isAbandoned(dir))) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // its owner, or another sweep, got there first
    }
  }
  return removed;
}

/** The runtime folders (of any user, any run) in the folders they are made in. */
export function listRuntimeDirs(parents = runtimeDirParents()): string[] {
  return parents.flatMap((parent) => {
    try {
      return fs.readdirSync(parent).filter((name) => name.startsWith(PREFIX)).map((name) => path.join(parent, name));
    } catch {
      return [];
    }
  });
}

async function isAbandoned(dir: string): Promise<boolean> {
  const owner = ownerOf(dir);
  if (owner) return !isSameProcessAlive(owner);
  const socket = agentSocketPath(dir);
  return !fs.existsSync(socket) || !(await acceptsConnections(socket));
}

/** The supervising process that made the folder, as its owner file names it. */
export function ownerOf(dir: string): ProcessIdentity | undefined {
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Partial<ProcessIdentity>;
    return Number.isInteger(raw.pid) && Number.isInteger(raw.startTicks) ? { pid: raw.pid!, startTicks: raw.startTicks! } : undefined;
  } catch {
    return undefined;
  }
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
