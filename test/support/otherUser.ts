/**
 * A second local user for the tests of what another user can and cannot do (root only).
 *
 * The second user is a uid that no account and no process has, and its programs are started by node itself with
 * that uid and gid (libuv also drops the supplementary groups). No useradd, no runuser: neither PAM nor a read-only
 * /etc/passwd on the machine can fail these tests, and the kernel checks a bare uid exactly as it checks an account's.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface OtherUser {
  uid: number;
  /** Runs argv as this user (no shell) in `/`; resolves with its exit code and output. */
  run(argv: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Runs argv as this user and returns its stdout; throws when it fails. */
  runSync(argv: string[], timeoutMs?: number): string;
  /** Kills whatever this user still runs. */
  remove(): void;
}

export const canSwitchUsers = process.getuid?.() === 0;

function uidsInUse(): Set<number> {
  const uids = new Set(fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => Number(line.split(':')[2])));
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      uids.add(fs.statSync(`/proc/${entry}`).uid);
    } catch {
      // gone meanwhile
    }
  }
  return uids;
}

function pidsOf(uid: number): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((entry) => {
    try {
      return fs.statSync(`/proc/${entry}`).uid === uid ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

/** Picks an unused uid; call remove() when done. */
export function createOtherUser(): OtherUser {
  const inUse = uidsInUse();
  let uid = 40000 + Math.floor(Math.random() * 20000);
  while (inUse.has(uid)) uid += 1;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' };
  return {
    uid,
    run: (argv, options = {}) => new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: '/', uid, gid: uid, env: { ...env, ...options.env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', (error) => (stderr += String(error)));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30000);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    }),
    runSync: (argv, timeoutMs = 20000) => {
      const result = spawnSync(argv[0], argv.slice(1), { cwd: '/', uid, gid: uid, env, encoding: 'utf8', timeout: timeoutMs });
      if (result.status !== 0) throw new Error(`${argv.join(' ')} as uid ${uid} failed (${result.status ?? result.signal ?? result.error}): ${result.stderr}`);
      return result.stdout;
    },
    remove: () => {
      for (const pid of pidsOf(uid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    },
  };
}

function reachableByOthers(folder: string): boolean {
  for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/**
 * A new 0755 folder that another user can reach: in the temporary folder when every folder above it lets others
 * pass, else in /tmp (a CI machine may set TMPDIR inside a 0700 home). Removed by the caller.
 */
export function folderOthersCanReach(prefix: string): string {
  const parent = [os.tmpdir(), '/tmp'].find(reachableByOthers);
  if (!parent) throw new Error(`neither ${os.tmpdir()} nor /tmp can be reached by another user`);
  const folder = fs.mkdtempSync(path.join(parent, prefix));
  fs.chmodSync(folder, 0o755);
  return folder;
}

/** Copies files or folders into `folder` (under the same relative paths), readable by everyone. */
export function copyReadable(from: string, paths: string[], folder: string): void {
  for (const relative of paths) {
    fs.cpSync(path.join(from, relative), path.join(folder, relative), { recursive: true });
  }
  const open = (target: string): void => {
    const isDir = fs.statSync(target).isDirectory();
    fs.chmodSync(target, isDir ? 0o755 : 0o644);
    if (isDir) for (const entry of fs.readdirSync(target)) open(path.join(target, entry));
  };
  for (const entry of fs.readdirSync(folder)) open(path.join(folder, entry));
}

/**
 * A copy of the running Node binary in `folder` (one from folderOthersCanReach), which the other user can run:
 * the binary itself may lie where that user cannot enter (under .vscode-test/ in a checkout inside a 0750 home, or
 * a version manager's folder in one). Returns the copy's path; it goes with the folder.
 */
export function nodeOthersCanRun(folder: string): string {
  const copy = path.join(folder, 'node');
  fs.copyFileSync(process.execPath, copy);
  fs.chmodSync(copy, 0o755);
  return copy;
}
