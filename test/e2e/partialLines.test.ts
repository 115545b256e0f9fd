/**
 * A line without its newline in a real VS Code: it is in the worker's channel within 250 ms of its last byte, and
 * its rest continues the same line of the channel (test/fixtures/apps/escapes_app.py writes both).
 */
import * as assert from 'node:assert';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { alive, api, freePort, getJson, readyServer, waitUntil } from './support';

const appsDir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'apps');
const SHOWN_WITHIN_MS = 250;

const kinds: Array<[string, Record<string, unknown>]> = [
  ['gunicorn', { server: 'gunicorn', workers: 2 }],
  // Uvicorn's access log line would follow the text at once, on the same line.
  ['uvicorn', { server: 'uvicorn', workers: 2, args: ['--no-access-log'] }],
];

describe('Partial lines in the worker channels', () => {
  for (const [kind, definition] of kinds) {
    it(`${kind}: a line without its newline shows within ${SHOWN_WITHIN_MS} ms, its rest continues it`, async function () {
      this.timeout(60_000);
      const workersApi = await api();
      const port = await freePort();
      const name = `partial-${kind}-${port}`;
      await vscode.commands.executeCommand('serverWorkers.start', { name, app: 'escapes_app:app', cwd: appsDir, bind: `127.0.0.1:${port}`, ...definition });
      const model = await waitUntil('2 ready workers', () => readyServer(workersApi, name, 2));
      try {
        const tag = `Loading-${port}`;
        const body = await getJson(`http://127.0.0.1:${port}/write?text=${tag}%20step%201...&rest=${encodeURIComponent(' done\n')}&after=1000`);
        const slot = model.workers.find((w) => w.pid === body.pid)!.slot;
        const lastLine = () => workersApi.channelLines(name, slot).at(-1);
        await waitUntil('the partial line in the channel', () => lastLine() === `${tag} step 1...` || undefined, 5000);
        const shownMs = Date.now() - (body.at as number);
        assert.ok(shownMs < SHOWN_WITHIN_MS, `shown ${Math.round(shownMs)} ms after its last byte`);
        await waitUntil('its rest on the same line', () => workersApi.channelLines(name, slot).includes(`${tag} step 1... done`) || undefined, 5000);
        assert.strictEqual(workersApi.channelLines(name, slot).filter((l) => l.includes(tag)).length, 1, 'one line, nothing doubled');
      } finally {
        await vscode.commands.executeCommand('serverWorkers.stop', name);
      }
      for (const pid of [model.master!.pid, ...model.workers.map((w) => w.pid)]) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
    });
  }
});
