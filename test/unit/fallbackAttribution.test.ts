import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { FallbackAttribution, type LineOwner } from '../../src/core/output/fallbackAttribution';

const MASTER = 100;
const WORKER = 101;

/** Routes one piece of a master pipe as ServerRun does without the agent: the open line's owner, else by pid. */
function route(fallback: FallbackAttribution, pipe: string, line: string, piece: { partial?: boolean; continues?: boolean } = {}): LineOwner {
  let owner = fallback.openLineOwner(pipe, piece.continues === true);
  if (!owner) {
    const { writer } = fallback.read(line);
    owner = writer === undefined || writer === MASTER ? { slot: 0, pid: MASTER } : { slot: 1, pid: writer };
  }
  fallback.routed(pipe, owner, piece.partial === true);
  return owner;
}

describe('FallbackAttribution (the agent off)', () => {
  it('a line that names a pid goes to that pid, and so do the lines without one after it', () => {
    const fallback = new FallbackAttribution('started');
    assert.deepStrictEqual(route(fallback, 'stderr', `[2026-11-30 08:37:24 +0000] [${WORKER}] [INFO] Booting worker with pid: ${WORKER}`), { slot: 1, pid: WORKER });
    assert.deepStrictEqual(route(fallback, 'stdout', 'a print'), { slot: 1, pid: WORKER });
    assert.deepStrictEqual(route(fallback, 'stderr', `[2026-11-30 08:37:24 +0000] [${MASTER}] [INFO] Control socket listening`), { slot: 0, pid: MASTER });
    assert.deepStrictEqual(route(fallback, 'stdout', 'another print'), { slot: 0, pid: MASTER });
  });

  it('the rest of a line shown before its newline goes where its start went, and the next lines follow it, whatever came between on the other pipe', () => {
    const fallback = new FallbackAttribution('started');
    route(fallback, 'stderr', `[2026-11-30 08:37:24 +0000] [${WORKER}] [INFO] Application startup complete.`);
    assert.deepStrictEqual(route(fallback, 'stdout', 'Loading ✓ step 1...', { partial: true }), { slot: 1, pid: WORKER });
    assert.deepStrictEqual(route(fallback, 'stderr', `[2026-11-30 08:37:24 +0000] [${MASTER}] [INFO] Control socket listening`), { slot: 0, pid: MASTER });
    assert.deepStrictEqual(route(fallback, 'stdout', ' done', { continues: true }), { slot: 1, pid: WORKER }, 'the rest, with its start');
    assert.deepStrictEqual(route(fallback, 'stdout', 'next line'), { slot: 1, pid: WORKER }, 'the line after it, with it');
  });

  it('a piece that is not a continuation is routed by pid even while another pipe has an open line', () => {
    const fallback = new FallbackAttribution('started');
    route(fallback, 'stderr', `[2026-11-30 08:37:24 +0000] [${WORKER}] [INFO] Started server process [${WORKER}]`);
    route(fallback, 'stdout', 'Progress: 50%', { partial: true });
    assert.deepStrictEqual(route(fallback, 'stderr', `[2026-11-30 08:37:24 +0000] [${MASTER}] [INFO] Handling signal: winch`), { slot: 0, pid: MASTER });
    assert.strictEqual(fallback.openLineOwner('stderr', true), undefined, 'no open line on stderr');
  });
});
