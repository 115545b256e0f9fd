/**
 * What a reload says and keeps (issue 22, items 5 to 7): a module-level breakpoint() is skipped by the import check
 * and stops the new workers in pdb; the output of new workers that print tens of MB at import is kept bounded in the
 * supervisor; a refusal after the app's file was renamed or a module it imports deleted points at the user's file or
 * says the module is gone, never at the agent's files.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { ServerDefinition } from '../../src/core/definition';
import { ServerError } from '../../src/core/errors';
import type { PdbSession } from '../../src/core/supervisor';
import { reloadAppFolder, writeVersion, writeVersionCode } from './reloadSupport';
import { createServer, eventually, get, stopAndCheck, type TestServer } from './support';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.supervisor.stop();
});

async function started(definition: Partial<ServerDefinition>): Promise<{ server: TestServer; folder: string }> {
  const folder = reloadAppFolder();
  const server = await createServer({ app: 'reload_asgi:app', workers: 2, cwd: folder, ...definition });
  servers.push(server);
  await server.supervisor.start();
  await eventually('the reload method to be known', () => server.supervisor.model().reload.method !== undefined);
  return { server, folder };
}

function masterLines(server: TestServer): string[] {
  return server.output.filter((e) => e.slot === 0).flatMap((e) => e.lines);
}

for (const kind of ['hypercorn', 'granian'] as const) {
  describe(`a module-level breakpoint() in a save (${kind}: the app is imported first)`, { timeout: 120000 }, () => {
    it('the import check skips it and says so; each new worker stops at it in pdb, and the reload goes on once they continue', async () => {
      const { server, folder } = await started({ server: kind });
      const sessions: PdbSession[] = [];
      server.supervisor.onPdb.on((session) => {
        sessions.push(session);
        session.onPrompt.on(() => session.input('c\n'));
      });
      const file = writeVersionCode(folder, 'breakpoint()', 'after the breakpoint');
      await server.supervisor.reload();
      assert.ok(masterLines(server).includes(`── reload: the import check skipped breakpoint() at ${file}:1; the new workers stop there`), 'said in the master\'s channel');
      const workers = server.supervisor.model().workers.map((w) => w.pid);
      assert.deepStrictEqual(sessions.map((s) => s.pid).sort(), [...workers].sort(), 'every new worker stopped in pdb');
      assert.strictEqual((await get(server.port, '/')).body.text, 'after the breakpoint');
      await stopAndCheck(server);
    });
  });
}

describe('new workers that print tens of MB at import (gunicorn)', { timeout: 180000 }, () => {
  it('the supervisor keeps a bounded part of what they printed: its memory stays where it was, and the refusal still names the error', async () => {
    const { server, folder } = await started({});
    // The test's own record of the output would hold it all: it keeps none of it here.
    server.supervisor.onOutput.on(() => server.output.splice(0, server.output.length));
    const settled = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      return process.memoryUsage();
    };
    const before = await settled();
    const file = writeVersionCode(folder, 'import sys\nfor i in range(400000):\n    sys.stdout.write("flood line %07d of a worker that prints at import, 100 bytes or so..........\\n" % i)\nraise RuntimeError("after the flood")');
    await assert.rejects(server.supervisor.reload(), (error: ServerError) => {
      assert.deepStrictEqual(error.details.location, { file, line: 4 });
      return /RuntimeError: after the flood/.test(error.message);
    });
    const afterRefusal = await settled();
    const rssGrowth = (afterRefusal.rss - before.rss) / MB;
    const heapGrowth = (afterRefusal.heapUsed - before.heapUsed) / MB;
    console.log(`# 2 × 40 MB printed at import: the heap grew ${heapGrowth.toFixed(1)} MB, the RSS ${rssGrowth.toFixed(1)} MB`);
    assert.ok(heapGrowth < 10, `the V8 heap grew ${heapGrowth.toFixed(1)} MB for 2 × 40 MB printed (RSS ${rssGrowth.toFixed(1)} MB)`);
    assert.ok(rssGrowth < 40, `the RSS grew ${rssGrowth.toFixed(1)} MB for 2 × 40 MB printed`);
    writeVersion(folder, 'v1');
    await server.supervisor.reload();
    await stopAndCheck(server);
  });
});

describe('a refusal after the app\'s file was renamed, or a module it imports deleted', { timeout: 120000 }, () => {
  for (const kind of ['gunicorn', 'hypercorn'] as const) {
    it(`${kind}: says the app's module is gone, or points at the app's import of the deleted module; never at the agent`, async () => {
      const { server, folder } = await started({ server: kind });
      const app = path.join(folder, 'reload_asgi.py');
      fs.renameSync(app, path.join(folder, 'renamed.py'));
      await assert.rejects(server.supervisor.reload(), (error: ServerError) => {
        assert.strictEqual(error.details.location, undefined, `no location (${JSON.stringify(error.details.location)})`);
        return /ModuleNotFoundError: No module named 'reload_asgi' \(the app's module reload_asgi is not in .*: was it renamed or deleted\?/.test(error.message);
      });
      fs.renameSync(path.join(folder, 'renamed.py'), app);
      fs.rmSync(path.join(folder, 'version.py'));
      await assert.rejects(server.supervisor.reload(), (error: ServerError) => {
        assert.deepStrictEqual(error.details.location, { file: app, line: 12 }, 'the app\'s "import version"');
        return /: ModuleNotFoundError: No module named 'version' \(/.test(error.message);
      });
      assert.ok(!JSON.stringify(server.supervisor.model().reload.failure).includes('server_workers_agent/'), 'nothing of the agent in the failure');
      writeVersion(folder, 'back');
      await server.supervisor.reload();
      assert.strictEqual((await get(server.port, '/')).body.text, 'back');
      await stopAndCheck(server);
    });
  }
});
