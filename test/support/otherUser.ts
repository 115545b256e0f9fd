/** A second local user for the tests of what another user can and cannot do (root only: useradd and runuser). */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface OtherUser {
  name: string;
  uid: number;
  /** Runs argv as this user (runuser, no shell); resolves with its exit code and output. */
  run(argv: string[], options?: { cwd?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  remove(): void;
}

export const canSwitchUsers = process.getuid?.() === 0;

/** Creates a throwaway user (no home folder); call remove() when done. */
export function createOtherUser(): OtherUser {
  const name = `swtest${randomBytes(3).toString('hex')}`;
  const created = spawnSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`useradd ${name} failed: ${created.stderr}`);
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  return {
    name,
    uid,
    run: (argv, options = {}) => new Promise((resolve) => {
      const child = spawn('runuser', ['-u', name, '--', ...argv], { cwd: options.cwd ?? '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', ...options.env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30000);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    }),
    remove: () => {
      spawnSync('pkill', ['-KILL', '-u', name]);
      spawnSync('userdel', [name]);
    },
  };
}
