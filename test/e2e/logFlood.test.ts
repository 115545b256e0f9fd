/**
 * A log flood in a real VS Code: a worker writes 200,000 lines as fast as it can (test/fixtures/bench/log_app.py).
 * No line is lost, the channel stays bounded and says it dropped the oldest lines, the extension host answers a
 * command mid-flood and its heap stays bounded. The bounds are generous: speed targets belong to npm run bench.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { alive, api, freePort, readyServer, waitUntil } from './support';

const LINES = 200_000;
/** The most lines a channel holds, as the README documents it (outputChannels.ts may tune how it trims below that). */
const CHANNEL_MAX_LINES = 40_000;
const benchFixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'bench');
/** Generous: a responsive host answers in milliseconds; a host stuck in the flood, not at all. */
const COMMAND_ANSWER_MS = 5000;
const EVENT_LOOP_DELAY_MS = 2000;
const HEAP_GROWTH_MB = 300;

describe('Log flood', () => {
  it(`a worker writes ${LINES} lines as fast as it can: none lost, the channel bounded, the host responsive`, async function () {
    this.timeout(120_000);
    const workersApi = await api();
    const port = await freePort();
    const name = `flood-${port}`;
    const go = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'server-workers-flood-')), 'go');
    await vscode.commands.executeCommand('serverWorkers.start', {
      name,
      server: 'gunicorn',
      app: 'log_app:app',
      cwd: benchFixtures,
      workers: 1,
      bind: `127.0.0.1:${port}`,
      env: { BENCH_GO: go, BENCH_MODE: 'flood', BENCH_LINES: String(LINES) },
    });
    const model = await waitUntil('1 ready worker', () => readyServer(workersApi, name, 1));
    const pids = [model.master!.pid, model.workers[0].pid];
    try {
      const before = await settledCount(workersApi, name);
      const expected = before + LINES;
      const heapBefore = heapAndBuffers();
      let heapPeak = heapBefore;
      const heapSampler = setInterval(() => (heapPeak = Math.max(heapPeak, heapAndBuffers())), 50);
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      let commandMs: number | undefined;
      let countAtCommand = 0;
      try {
        fs.writeFileSync(go, '');
        await waitUntil('the flood to begin', () => workersApi.channelLineCount(name, 1) > before, 30_000);
        // Mid-flood: our command (it shows the flooded channel) and one that goes through the workbench and back.
        countAtCommand = workersApi.channelLineCount(name, 1);
        const asked = Date.now();
        await Promise.race([
          (async () => {
            await vscode.commands.executeCommand('serverWorkers.showLogs', { kind: 'worker', serverId: model.id, slot: 1 });
            await vscode.commands.executeCommand('workbench.action.focusActiveEditorGroup');
          })(),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`a command issued mid-flood did not answer within ${COMMAND_ANSWER_MS} ms`)), COMMAND_ANSWER_MS)),
        ]);
        commandMs = Date.now() - asked;
        await waitUntil(`${expected} lines in the channel`, () => workersApi.channelLineCount(name, 1) >= expected, 90_000);
      } finally {
        loopDelay.disable();
        clearInterval(heapSampler);
      }
      assert.ok(countAtCommand < expected, `the command was issued mid-flood (${countAtCommand - before} of ${LINES} lines in)`);
      await new Promise((r) => setTimeout(r, 300));
      assert.strictEqual(workersApi.channelLineCount(name, 1), expected, 'every line written, and only those, reached the channel');

      const kept = workersApi.channelLines(name, 1);
      assert.ok(kept.length <= CHANNEL_MAX_LINES, `the channel holds ${kept.length} lines, at most ${CHANNEL_MAX_LINES}`);
      assert.ok(kept.length >= 1000, `the channel keeps the newest lines (${kept.length})`);
      const indices = kept.map((line) => /^flood \d+ (\d+) /.exec(line)?.[1]).filter((i) => i !== undefined).map(Number);
      assert.strictEqual(indices.length, kept.length, 'the kept lines are the newest: flood lines only');
      assert.strictEqual(indices[indices.length - 1], LINES - 1, 'the last line written is the last one kept');
      assert.ok(indices.every((i, k) => k === 0 || i === indices[k - 1] + 1), 'the kept lines are consecutive: none lost, none reordered');
      const shown = await waitUntil('the channel to say it dropped the oldest lines', () => channelText(name)?.includes('older lines dropped') || undefined, 10_000);
      assert.ok(shown);

      const heapGrowthMb = (heapPeak - heapBefore) / 2 ** 20;
      const maxDelayMs = loopDelay.max / 1e6;
      console.log(`log flood: command answered in ${commandMs} ms; event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${maxDelayMs.toFixed(0)} ms; heap and buffers peak +${heapGrowthMb.toFixed(0)} MB`);
      assert.ok(maxDelayMs < EVENT_LOOP_DELAY_MS, `the extension host's event loop stalled ${maxDelayMs.toFixed(0)} ms (bound ${EVENT_LOOP_DELAY_MS})`);
      assert.ok(heapGrowthMb < HEAP_GROWTH_MB, `the extension host's heap and buffers grew ${heapGrowthMb.toFixed(0)} MB (bound ${HEAP_GROWTH_MB})`);
    } finally {
      await vscode.commands.executeCommand('serverWorkers.stop', name);
      fs.rmSync(path.dirname(go), { recursive: true, force: true });
    }
    for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone after Stop`);
  });
});

/** The extension host's JavaScript heap and the Buffers outside it (a channel may keep its lines as bytes). */
function heapAndBuffers(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** The channel's line count once it has stopped growing (the worker's boot lines). */
async function settledCount(workersApi: Awaited<ReturnType<typeof api>>, name: string): Promise<number> {
  let last = -1;
  for (;;) {
    const count = workersApi.channelLineCount(name, 1);
    if (count === last) return count;
    last = count;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The text the output panel shows for a server's worker 1 channel (its document, once shown), if any. */
function channelText(name: string): string | undefined {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'output' && d.uri.path.includes(`${name} · worker 1`));
  return doc?.getText();
}
