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
