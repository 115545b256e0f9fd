import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'serverworkers.server-workers';

interface PerformanceMark {
  name: string;
  startTime: number;
}

/**
 * VS Code's own clock on the activation: the extension host marks (ms since the epoch) when it starts and ends
 * loading an extension's code, and when it calls activate() and the result settles. The benchmark
 * (scripts/bench.mjs, section "extension") runs this test alone with SERVER_WORKERS_BENCH_ACTIVATION naming the
 * file to write the figures to. Never asserts a duration: speed is not a test.
 */
describe('activation', () => {
  it('VS Code records the extension\'s load and activation times', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not among the installed extensions`);
    const activatedBefore = extension.isActive;
    await extension.activate();
    const marks = (globalThis as { MonacoPerformanceMarks?: { getMarks(): PerformanceMark[] } }).MonacoPerformanceMarks?.getMarks() ?? [];
    const at = (what: string) => marks.find((m) => m.name === `code/extHost/${what}/${EXTENSION_ID}`)?.startTime;
    const times = {
      willLoad: at('willLoadExtensionCode'),
      didLoad: at('didLoadExtensionCode'),
      willActivate: at('willActivateExtension'),
      didActivate: at('didActivateExtension'),
    };
    for (const [name, time] of Object.entries(times)) assert.equal(typeof time, 'number', `the extension host has no ${name} mark`);
    const result = {
      loadMs: times.didLoad! - times.willLoad!,
      activateMs: times.didActivate! - times.willActivate!,
      totalMs: times.didActivate! - times.willLoad!,
      activatedBeforeTheTest: activatedBefore,
      marks: times,
    };
    const file = process.env.SERVER_WORKERS_BENCH_ACTIVATION;
    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `${JSON.stringify(result)}\n`);
    }
  });
});
