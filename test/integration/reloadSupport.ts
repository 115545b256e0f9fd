/** The reload tests' app in a folder of its own (they rewrite its files), and what they write into it. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { fixturesDir } from '../support/paths';

const folders: string[] = [];
after(() => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

/** A copy of test/fixtures/reload/ (reload_asgi.py, reload_flask.py, version.py) in a new temporary folder. */
export function reloadAppFolder(): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-reload-'));
  folders.push(folder);
  const source = path.join(fixturesDir, 'reload');
  for (const name of fs.readdirSync(source)) if (name.endsWith('.py')) fs.copyFileSync(path.join(source, name), path.join(folder, name));
  return folder;
}

/** Rewrites version.py: the text the app answers with, and what its lifespan startup does. */
export function writeVersion(folder: string, text: string, startup = 'pass'): string {
  const file = path.join(folder, 'version.py');
  fs.writeFileSync(file, `TEXT = ${JSON.stringify(text)}\n\n\ndef startup():\n    ${startup}\n`);
  return file;
}

/** version.py with a syntax error on line 1 (an unterminated string). */
export function writeBrokenVersion(folder: string): string {
  const file = path.join(folder, 'version.py');
  fs.writeFileSync(file, 'TEXT = "broken\n\n\ndef startup():\n    pass\n');
  return file;
}

/** version.py whose import runs `code` first (its line 1 onwards), then defines what the app uses. */
export function writeVersionCode(folder: string, code: string, text = 'bad'): string {
  const file = path.join(folder, 'version.py');
  fs.writeFileSync(file, `${code}\nTEXT = ${JSON.stringify(text)}\n\n\ndef startup():\n    pass\n`);
  return file;
}

/** Code that forks three children in sessions of their own, each sleeping an hour; it logs "child parent" to `log`. */
export function forkingChildren(log: string): string {
  return [
    'import os, time',
    'for _ in range(3):',
    '    child = os.fork()',
    '    if child == 0:',
    '        os.setsid()',
    '        time.sleep(3600)',
    '        os._exit(0)',
    `    with open(${JSON.stringify(log)}, "a") as f:`,
    '        f.write("%d %d\\n" % (child, os.getpid()))',
  ].join('\n');
}

/** [pid, parent] of each child that forkingChildren's code logged. */
export function loggedChildren(log: string): Array<[number, number]> {
  if (!fs.existsSync(log)) return [];
  return fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => line.split(' ').map(Number) as [number, number]);
}

/** Every process whose working directory is `folder`: the server's, and whatever its code started there. */
export function processesIn(folder: string): number[] {
  const real = fs.realpathSync(folder);
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/cwd`) === real && !isZombie(pid);
    } catch {
      return false;
    }
  });
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}
