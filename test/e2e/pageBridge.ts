/**
 * What a webview shows, for the tests inside the extension host: asked of the harness's browser through its bridge
 * (test/e2e/pageBridge.mjs), which looks in every frame of the workbench.
 */
import * as http from 'node:http';

interface Answer {
  found?: boolean;
  value?: unknown;
  error?: string;
}

function ask(request: Record<string, unknown>): Promise<Answer> {
  const url = process.env.SERVER_WORKERS_E2E_PAGE_BRIDGE;
  if (!url) return Promise.reject(new Error('SERVER_WORKERS_E2E_PAGE_BRIDGE is not set: run the e2e tests through test/e2e/harness.mjs'));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        const answer = JSON.parse(body) as Answer;
        if (answer.error) reject(new Error(`the page bridge: ${answer.error}`));
        else resolve(answer);
      });
    });
    req.setTimeout(20000, () => req.destroy(new Error('the page bridge did not answer within 20 s')));
    req.on('error', reject);
    req.end(JSON.stringify(request));
  });
}

/** The text of every element matching `selector` in the first frame that has one; undefined when no frame has. */
export async function frameTexts(selector: string): Promise<string[] | undefined> {
  const answer = await ask({ selector, action: 'texts' });
  return answer.found ? (answer.value as string[]) : undefined;
}

export async function frameAttribute(selector: string, name: string): Promise<string | null | undefined> {
  const answer = await ask({ selector, action: 'attribute', name });
  return answer.found ? (answer.value as string | null) : undefined;
}

export async function frameClick(selector: string): Promise<void> {
  const answer = await ask({ selector, action: 'click' });
  if (!answer.found) throw new Error(`no frame has ${selector} to click`);
}

/**
 * Evaluates `script` (an expression, as text: "(() => ...)()" to run a function) in the frame that has `selector`, or
 * with `inParent` in the frame holding that one (a webview's host frame: its content frame cannot reach it).
 */
export async function frameEvaluate(selector: string, script: string, inParent = false): Promise<unknown> {
  const answer = await ask({ selector, action: 'evaluate', script, inParent });
  if (!answer.found) throw new Error(`no frame has ${selector}`);
  return answer.value;
}

/** Polls the frames until `check` of the texts of `selector` holds; returns those texts. */
export async function waitForTexts(what: string, selector: string, check: (texts: string[]) => boolean, timeoutMs = 30000): Promise<string[]> {
  let last: string[] | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    last = await frameTexts(selector);
    if (last && check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${selector} shows ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The workbench's console lines so far (the extension host's among them, "[warn] ...") that contain `pattern`. */
export async function consoleLines(pattern: string): Promise<string[]> {
  return (await ask({ action: 'console', pattern })).value as string[];
}

/** Polls `probe` until it gives a value (not undefined), or fails with `what` after the timeout. */
export async function waitUntilAsync<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Polls the frames until the attribute `name` of `selector` is `expected`. */
export async function waitForAttribute(selector: string, name: string, expected: string, timeoutMs = 15000): Promise<void> {
  let last: string | null | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    last = await frameAttribute(selector, name);
    if (last === expected) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${selector} to have ${name}="${expected}" (it has ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
