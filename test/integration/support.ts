/** Helpers for integration tests of the core against real servers. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after } from 'node:test';
import { resolveDefinition, type ServerDefinition } from '../../src/core/definition';
import type { ServerModel } from '../../src/core/model';
import { childrenOf, commandLine, isAlive, processGroupMembers } from '../../src/core/process/procfs';
import { type OutputEvent, Supervisor, type SupervisorOptions } from '../../src/core/supervisor';
import { agentDir, fixturesDir, testPython } from '../support/paths';
import { freePort, portFree } from '../support/ports';

export const appsDir = path.join(fixturesDir, 'apps');

export { freePort, portFree };

export interface TestServer {
  supervisor: Supervisor;
  port: number;
  output: OutputEvent[];
  /** Every pid the test has seen belong to the server, to check none survives. */
  seenPids: Set<number>;
}

const created = new Set<Supervisor>();
// A test that timed out never reaches its own stop: its server would keep the file's process (and the run) alive.
after(async () => {
  await Promise.allSettled([...created].map((supervisor) => supervisor.stop()));
});

export async function createServer(definition: Partial<ServerDefinition>, options: SupervisorOptions = { agentDir }): Promise<TestServer> {
  const port = await freePort();
  const resolved = resolveDefinition(
    { app: 'echo_asgi:app', bind: `127.0.0.1:${port}`, gracefulTimeout: 3, ...definition },
    { defaultPython: testPython, defaultCwd: appsDir, defaultWorkers: 2 },
  );
  const supervisor = new Supervisor(resolved, { statsIntervalMs: 250, ...options });
  created.add(supervisor);
  const server: TestServer = { supervisor, port, output: [], seenPids: new Set() };
  supervisor.onOutput.on((event) => server.output.push(event));
  supervisor.onDidChange.on((model) => {
    if (model.master) server.seenPids.add(model.master.pid);
    for (const worker of [...model.workers, ...model.retiring]) if (worker.state !== 'exited') server.seenPids.add(worker.pid);
  });
  return server;
}

/** Stops the server and proves that no process of it remains in /proc. */
export async function stopAndCheck(server: TestServer): Promise<void> {
  const pgid = server.supervisor.pid;
  await server.supervisor.stop();
  const survivors = [...server.seenPids].filter(isAlive);
  assert.deepStrictEqual(survivors, [], `no process of the server survives the stop (${survivors.map((p) => `${p}: ${commandLine(p)}`).join('; ')})`);
  if (pgid !== undefined) assert.deepStrictEqual(processGroupMembers(pgid), [], 'the process group is empty');
  assert.strictEqual(server.supervisor.model().master, undefined);
}

/** The model's live workers are exactly the master's worker children in /proc, and every one is alive. */
export function assertModelMatchesProc(model: ServerModel, expectedWorkers: number): void {
  assert.ok(model.master, 'the model has a master');
  assert.ok(isAlive(model.master.pid), `master ${model.master.pid} is alive`);
  const live = [...model.workers, ...model.retiring].filter((w) => w.state !== 'exited').map((w) => w.pid).sort();
  const children = childrenOf(model.master.pid)
    .filter((pid) => isAlive(pid) && !commandLine(pid).includes('resource_tracker'))
    .sort();
  assert.deepStrictEqual(live, children, `the model's workers ${live} are the master's children ${children}`);
  assert.strictEqual(model.workers.length, expectedWorkers, `${expectedWorkers} worker slots`);
  assert.deepStrictEqual(model.workers.map((w) => w.state), Array(expectedWorkers).fill('ready'), 'every worker ready');
  // Scaling down removes the worker the server picks (Gunicorn: the oldest), so slots may have gaps; never duplicates.
  assert.strictEqual(new Set(model.workers.map((w) => w.slot)).size, expectedWorkers, 'distinct slots');
}

export function get(port: number, pathname: string, timeoutMs = 15000): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      // A worker killed mid-response: the response neither ends nor errors unless listened to (no timer is left either).
      response.on('error', reject);
      response.on('close', () => {
        if (!response.complete) reject(new Error(`GET ${pathname}: the connection closed mid-response`));
      });
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`GET ${pathname}: not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`GET ${pathname} timed out`)));
    request.on('error', reject);
  });
}

/** Sends `total` requests, `concurrency` at a time; returns how many each pid served. */
export async function burst(port: number, pathname: string, total: number, concurrency = 8): Promise<Map<number, number>> {
  const served = new Map<number, number>();
  let sent = 0;
  const lane = async () => {
    while (sent < total) {
      sent++;
      const { body } = await get(port, pathname);
      const pid = body.pid as number;
      served.set(pid, (served.get(pid) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return served;
}

export async function eventually(what: string, check: () => boolean, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function linesOf(server: TestServer, slot: number): string[] {
  return server.output.filter((e) => e.slot === slot).flatMap((e) => e.lines);
}

export function exists(file: string): boolean {
  return fs.existsSync(file);
}
