/** What `run` reads on stdin: typed lines for pdb (people), or JSON commands (--json). */
import * as readline from 'node:readline';
import type { Supervisor } from '../core/supervisor';
import { type Emit, stdout, workerJson } from './output';
import type { CliPdb } from './pdb';

/** For people: what they type goes to a worker's pdb (stdin's end does not stop the server: Ctrl-C does). */
export function listenForTypedLines(pdb: CliPdb): void {
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (process.stdin.isTTY) stdout.typed(); // the terminal echoed the line and its Enter
    pdb.typed(line);
  });
}

export function listenForCommands(supervisor: Supervisor, pdb: CliPdb, emit: Emit, stop: () => void): void {
  const input = readline.createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === '') return;
    const command = commandOf(line);
    if (typeof command === 'string') {
      emit({ event: 'result', ok: false, error: command });
      return;
    }
    const cmd = command.cmd;
    let work: Promise<void>;
    switch (cmd) {
      case 'scale':
        work = supervisor.scale(Number(command.workers));
        break;
      case 'kill':
        work = supervisor.killWorker(Number(command.slot));
        break;
      case 'reload':
        work = supervisor.reload();
        break;
      case 'restart':
        work = supervisor.restart();
        break;
      case 'stacks':
        supervisor.showStacks(Number(command.slot)).then(
          (result) => emit({ event: 'result', cmd, ok: true, slot: Number(command.slot), ...result }),
          (error: Error) => emit({ event: 'result', cmd, ok: false, error: error.message }),
        );
        return;
      case 'stop':
        stop();
        return;
      case 'input': {
        const error = pdb.input(command.slot, command.text);
        emit(error === undefined ? { event: 'result', cmd, ok: true } : { event: 'result', cmd, ok: false, error });
        return;
      }
      default:
        emit({ event: 'result', cmd, ok: false, error: `Unknown command ${JSON.stringify(cmd)}: use scale, kill, reload, restart, stacks, stop or input.` });
        return;
    }
    work.then(
      () => emit({ event: 'result', cmd, ok: true, workers: supervisor.model().workers.map(workerJson) }),
      (error: Error) => emit({ event: 'result', cmd, ok: false, error: error.message }),
    );
  });
  input.on('close', stop);
}


/** The command object of a line, or what is wrong with the line: JSON that is not an object (`null`, `42`, `"x"`, `[]`) is no command. */
function commandOf(line: string): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return `Not a JSON command: ${line.slice(0, 200)}`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return `Not a command: ${line.slice(0, 200)} (a command is a JSON object such as {"cmd":"stop"}).`;
  }
  return parsed as Record<string, unknown>;
}
