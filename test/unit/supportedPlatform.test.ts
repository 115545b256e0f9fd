import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { adapterFor } from '../../src/core/adapters';
import { resolveDefinition } from '../../src/core/definition';
import { ServerError } from '../../src/core/errors';
import { preflight } from '../../src/core/process/preflight';
import { unsupportedPlatformMessage } from '../../src/core/process/supportedPlatform';

describe('the platform a server starts on', () => {
  it('Linux: nothing to say', () => {
    assert.strictEqual(unsupportedPlatformMessage('linux'), undefined);
  });

  it('macOS: names it, says why, points at a Dev Container or Remote-SSH', () => {
    const message = unsupportedPlatformMessage('darwin')!;
    assert.match(message, /^Server Workers runs servers on Linux only, and this is macOS \(darwin\)/);
    assert.match(message, /\/proc .* SO_PEERCRED/);
    assert.match(message, /Dev Containers: Reopen in Container/);
    assert.match(message, /Remote-SSH/);
  });

  it('Windows: names it, points at WSL and a Dev Container', () => {
    const message = unsupportedPlatformMessage('win32')!;
    assert.match(message, /this is Windows \(win32\)/);
    assert.match(message, /WSL: Reopen Folder in WSL.* or in a Dev Container/);
  });

  it('another Unix: named as Node names it', () => {
    assert.match(unsupportedPlatformMessage('freebsd')!, /this is freebsd:/);
  });

  it('is the first thing a start checks: a ServerError of reason "platform" before the folder, the port or the interpreter', async () => {
    // A folder and an interpreter that do not exist: were they checked first, the error would be theirs.
    const def = resolveDefinition({ app: 'main:app', cwd: '/no/such/folder', python: '/no/such/python' }, { defaultPython: 'python3', defaultCwd: '/', defaultWorkers: 2 });
    await assert.rejects(preflight(def, adapterFor('gunicorn'), 'darwin'), (error: unknown) =>
      error instanceof ServerError && error.reason === 'platform' && error.message === unsupportedPlatformMessage('darwin'));
    await assert.rejects(preflight(def, adapterFor('gunicorn'), 'linux'), (error: unknown) => error instanceof ServerError && error.reason === 'cwd');
  });
});
