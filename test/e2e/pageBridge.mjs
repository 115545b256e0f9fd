// The e2e tests run inside VS Code's extension host; a webview's page is not theirs to reach. The harness, which
// drives the browser, lends them its eyes: a loopback HTTP endpoint (SERVER_WORKERS_E2E_PAGE_BRIDGE, in the
// extension host's environment) that looks for a selector in every frame of the workbench (a webview's content is a
// nested frame whose name varies: /work/shared/notes/agent-tools-and-webviews.md) and reads it, clicks it, or runs a
// function in that frame. The tests' side: test/e2e/pageBridge.ts.
import * as http from 'node:http';

/**
 * Starts the endpoint; `page()` is the session's page now. Resolves with { url, log(type, text), close() }: `log` is
 * given the workbench's console lines (the extension host's among them), which { action: 'console', pattern } finds.
 */
export async function startPageBridge(page) {
  const lines = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', async () => {
      let answer;
      try {
        const asked = JSON.parse(body);
        answer = asked.action === 'console' ? { found: true, value: lines.filter((l) => l.includes(asked.pattern)) } : await act(page(), asked);
      } catch (error) {
        answer = { error: String(error?.message ?? error) };
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    log: (type, text) => {
      lines.push(`[${type}] ${text}`);
      if (lines.length > 5000) lines.splice(0, 1000);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The texts of `selector` in the first frame of `page` that has it; undefined when none has (for the harness's own checks). */
export async function frameTexts(page, selector) {
  const answer = await act(page, { selector, action: 'texts' });
  return answer.found ? answer.value : undefined;
}

/**
 * { selector, action: 'texts' | 'attribute' | 'click' | 'evaluate', name?, script?, inParent? } -> { found, value }: in
 * the first frame where the selector matches anything (`evaluate` with `inParent`: in the frame that holds that one,
 * a webview's host frame).
 */
async function act(page, { selector, action, name, script, inParent }) {
  if (!page) return { found: false };
  for (const frame of page.frames()) {
    const locator = frame.locator(selector);
    const count = await locator.count().catch(() => 0);
    if (count === 0) continue;
    if (action === 'texts') return { found: true, value: await locator.allTextContents() };
    if (action === 'attribute') return { found: true, value: await locator.first().getAttribute(name) };
    if (action === 'click') {
      await locator.first().click({ timeout: 5000 });
      return { found: true };
    }
    if (action === 'evaluate') return { found: true, value: await (inParent ? frame.parentFrame() : frame).evaluate(script) };
    return { error: `unknown action ${action}` };
  }
  return { found: false };
}
