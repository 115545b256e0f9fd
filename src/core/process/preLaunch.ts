/**
 * The task's `preLaunch` commands (migrations, asset builds...): in order, in the server's folder and environment, each
 * line of their output reported; the first failure stops the start. An abort (the server is stopped meanwhile) kills
 * the running step.
 */
import { spawn } from 'node:child_process';
import type { ResolvedDefinition } from '../definition';
import { ServerError } from '../errors';
import { describeExit } from '../model';
import { LINE_CONTINUATION, LineSplitter, PIECE_CONTINUED } from '../lineSplitter';

export interface PreLaunchOutput {
  /** A line a step printed (`pid` its process), or a heading the runner writes before a step (`marker`). */
  (line: string, pid: number, marker: boolean): void;
}

export async function runPreLaunchSteps(def: ResolvedDefinition, output: PreLaunchOutput, abort: AbortSignal): Promise<void> {
  const env = { ...process.env, ...def.env, PYTHONUNBUFFERED: '1' };
  for (const [index, step] of def.preLaunch.entries()) {
    const argv = step[0] === 'python' ? [def.python, ...step.slice(1)] : step;
    const where = `Pre-launch step ${index + 1} of ${def.preLaunch.length} (${step.join(' ')})`;
    output(`── ${where.toLowerCase()}`, 0, true);
    const child = spawn(argv[0], argv.slice(1), { cwd: def.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = () => child.kill('SIGKILL');
    abort.addEventListener('abort', kill);
    for (const stream of [child.stdout, child.stderr]) {
      // A step's output is shown line by line; a piece of a line over 1 MiB is marked as the rest of the one before.
      const splitter = new LineSplitter((line, piece) => {
        if (!(piece & PIECE_CONTINUED)) output(line, child.pid ?? 0, false);
        else if (line !== '') output(LINE_CONTINUATION + line, child.pid ?? 0, false);
      });
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.on('end', () => splitter.end());
    }
    const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    abort.removeEventListener('abort', kill);
    if (abort.aborted) throw new ServerError(`The server "${def.name}" was stopped.`, 'stopped');
    if (outcome.error) {
      const missing = (outcome.error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new ServerError(`${where} could not be run: ${missing ? `no such command "${argv[0]}"` : outcome.error.message}. Nothing was started.`, 'prelaunch');
    }
    if (outcome.code !== 0) {
      throw new ServerError(`${where} failed: it ${describeExit(outcome.code, outcome.signal).text}. Nothing was started; its output is in the master's channel.`, 'prelaunch');
    }
  }
}
