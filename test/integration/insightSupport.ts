/** Helpers of the request-insight and stacks tests: requests whose status is all that counts, requests left hanging. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { WorkerModel } from '../../src/core/model';
import { appsDir } from './support';

/** GET `pathname`; resolves with the status and the pid the app put in its JSON body (0 when there is none). */
export function statusOf(port: number, pathname: string, timeoutMs = 20000): Promise<{ status: number; pid: number }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('error', reject);
      response.on('end', () => {
        let pid = 0;
        try {
          pid = Number((JSON.parse(text) as { pid?: number }).pid ?? 0);
        } catch {
          // the server's own 500 page
        }
        resolve({ status: response.statusCode ?? 0, pid });
      });
    });
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`GET ${pathname} timed out`)));
    request.on('error', reject);
  });
}

/** A request left running (a handler that sleeps or is stuck); `abort()` closes its connection. */
export function hanging(port: number, pathname: string): { abort(): void; done: Promise<unknown> } {
  const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false });
  const done = new Promise((resolve) => {
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
      response.on('error', () => resolve(undefined));
    });
    request.on('error', () => resolve(undefined));
  });
  return { abort: () => request.destroy(), done };
}

/** The 1-based line of `text` in a fixture app: what a stack must name. */
export function lineOf(file: string, text: string): number {
  const index = fs.readFileSync(path.join(appsDir, file), 'utf8').split('\n').findIndex((line) => line.includes(text));
  if (index < 0) throw new Error(`${text} is not in ${file}`);
  return index + 1;
}

/** The live worker whose insight lists a request in flight on `pathname`. */
export function workerServing(workers: readonly WorkerModel[], pathname: string): WorkerModel | undefined {
  return workers.find((w) => w.state !== 'exited' && w.insight?.requests.some((r) => r.path === pathname));
}
