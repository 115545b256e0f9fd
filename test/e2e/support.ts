/** Helpers for the e2e tests that run inside the extension host. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as vscode from 'vscode';
import type { ServerModel } from '../../src/core/model';
import type { ServerWorkersApi, ServerWorkersTesting } from '../../src/extension/api';

export const EXTENSION_ID = 'serverworkers.server-workers';

/** The extension's API with its testing part flattened in, as the tests use it. */
export type TestApi = ServerWorkersApi & ServerWorkersTesting;

export async function api(): Promise<TestApi> {
  const extension = vscode.extensions.getExtension<ServerWorkersApi>(EXTENSION_ID);
  if (!extension) throw new Error(`extension ${EXTENSION_ID} is not installed`);
  const exported = await extension.activate();
  return Object.assign(Object.create(exported) as ServerWorkersApi, exported, exported.testing);
}

export { freePort, portFree } from '../support/ports';

/** Polls until `probe` returns a value (not undefined), or fails with `what` after the timeout. */
export async function waitUntil<T>(what: string, probe: () => T | undefined, timeoutMs = 60000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function serverNamed(workersApi: TestApi, name: string): ServerModel | undefined {
  return workersApi.servers().find((s) => s.name === name);
}

export function readyServer(workersApi: TestApi, name: string, workers: number): ServerModel | undefined {
  const model = serverNamed(workersApi, name);
  return model && model.state === 'running' && model.workers.length === workers && model.workers.every((w) => w.state === 'ready') ? model : undefined;
}

/** Alive in /proc and not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

export function getJson(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch {
          reject(new Error(`${url} answered ${response.statusCode} with a body that is not JSON: ${body.slice(0, 200)}`));
        }
      });
    });
    request.setTimeout(10000, () => request.destroy(new Error(`${url} did not answer within 10 s`)));
    request.on('error', reject);
  });
}

/**
 * The pids of the Python processes (not zombies) whose working directory is `dir`: what a server started there runs.
 * Only Python: VS Code's own helpers (the git extension's `git` calls) run in a workspace folder too.
 */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const python = /python/.test(fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0')[0]);
      if (python && fs.readlinkSync(`/proc/${entry}/cwd`) === dir && alive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}
