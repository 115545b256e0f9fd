// The soak's saves: each of its reloads is a save of soak_save.py (which the soak's app imports) in a copy of the
// bench fixtures, in turn good code and code that does not import: it exits (sys.exit), exits 0 (os._exit(0)), or
// hangs past the reload timeout. A bad save must be refused, the old generation serving on; the good code is put
// back right after the refusal, as a developer's next save would.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchFixtures } from './lib.mjs';

export const SAVE_CODE = {
  good: (n) => `SAVED = ${n}\n`,
  exit: () => 'import sys\nsys.exit("soak: a save that exits at import")\n',
  exit0: () => 'import os\nos._exit(0)\n',
  hang: () => 'import time\ntime.sleep(3600)\n',
};

/** A copy of the soak's app in a folder of its own (the saves rewrite it); `remove()` deletes it. */
export function soakFolder() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-soak-'));
  for (const name of ['soak_app.py', 'soak_save.py']) fs.copyFileSync(path.join(benchFixtures, name), path.join(folder, name));
  return { folder, remove: () => fs.rmSync(folder, { recursive: true, force: true }) };
}

/**
 * Saves `kind` and reloads. A good save must reload; a bad one must be refused (its message is kept), then the good
 * code goes back on disk. Throws when either does otherwise.
 */
export async function saveAndReload(supervisor, folder, kind, n) {
  const file = path.join(folder, 'soak_save.py');
  fs.writeFileSync(file, SAVE_CODE[kind](n));
  if (kind === 'good') {
    await supervisor.reload([file]);
    return undefined;
  }
  let refused;
  try {
    await supervisor.reload([file]);
  } catch (error) {
    refused = error;
  } finally {
    fs.writeFileSync(file, SAVE_CODE.good(n));
  }
  if (!refused) throw new Error(`a save that ${kind === 'hang' ? 'hangs' : 'exits'} at import was taken`);
  if (!/^Reload failed, serving the previous code: /.test(refused.message)) throw refused;
  return refused.message;
}
