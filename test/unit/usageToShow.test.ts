/** What the model shows of a process's CPU and memory: a CPU figure that moves within the band is not a change. */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { CPU_BAND_POINTS, SHOWN_FOR_MS, usageToShow } from '../../src/core/workers/usageWatch';

const MB = 1024 * 1024;

describe('usageToShow', () => {
  it('keeps what is shown while an idle worker\'s CPU reads 0 %, 1 %, 0 % (the kernel\'s 10 ms ticks)', () => {
    const shown = usageToShow(undefined, { cpuPercent: 0, rssBytes: 40 * MB }, 0);
    for (const [i, cpuPercent] of [1, 0, 0, 1, 0].entries()) {
      assert.strictEqual(usageToShow(shown, { cpuPercent, rssBytes: 40 * MB }, 1000 * (i + 1)), shown, `second ${i + 1}: ${cpuPercent} %`);
    }
  });

  it('shows a CPU figure that left the band, any change of memory, and a figure shown for too long', () => {
    const shown = usageToShow(undefined, { cpuPercent: 0, rssBytes: 40 * MB }, 0);
    assert.deepStrictEqual(usageToShow(shown, { cpuPercent: CPU_BAND_POINTS, rssBytes: 40 * MB }, 1000).usage, { cpuPercent: CPU_BAND_POINTS, rssBytes: 40 * MB });
    assert.deepStrictEqual(usageToShow(shown, { cpuPercent: 0, rssBytes: 41 * MB }, 1000).usage, { cpuPercent: 0, rssBytes: 41 * MB });
    assert.deepStrictEqual(usageToShow(shown, { cpuPercent: 1, rssBytes: 40 * MB }, SHOWN_FOR_MS), { usage: { cpuPercent: 1, rssBytes: 40 * MB }, at: SHOWN_FOR_MS });
  });
});
