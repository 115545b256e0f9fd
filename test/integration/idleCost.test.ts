/**
 * What an idle server costs the views: the stats tick samples every process each time, but a model is published only
 * when something in it changed, so a tree, a status bar or an API listener does nothing while the server idles.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import type { ServerModel } from '../../src/core/model';
import { createServer, eventually, stopAndCheck } from './support';

describe('an idle server', { timeout: 60000 }, () => {
  it('publishes a model only when a figure in it changed (an idle tick publishes none)', async () => {
    const test = await createServer({ workers: 2 }); // the stats tick every 250 ms
    await test.supervisor.start();
    await eventually('every process\'s memory to be sampled', () => {
      const model = test.supervisor.model();
      return (model.master?.rssBytes ?? 0) > 0 && model.workers.every((w) => w.rssBytes > 0);
    });
    const published: string[] = [];
    const off = test.supervisor.onDidChange.on((model: ServerModel) => published.push(JSON.stringify(model)));
    await new Promise((resolve) => setTimeout(resolve, 3000)); // 12 ticks
    off();
    const repeated = published.filter((model, i) => i > 0 && model === published[i - 1]);
    assert.strictEqual(repeated.length, 0, `${repeated.length} of ${published.length} models published in 3 s were the same as the one before`);
    await stopAndCheck(test);
  });
});
