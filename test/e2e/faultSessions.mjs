// The e2e sessions that need a window of their own, each run by harness.mjs in a code-server of its own after the
// main suite: a multi-root workspace, an untrusted workspace, a window closed and an extension host killed with
// SIGKILL while servers run, a window reloaded with the dashboard open.
// The tests inside the extension host are test/e2e/sessions/*.test.ts; the checks here run outside it, from /proc.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../scripts/lib/paths.mjs';
import { freePort, portFree } from '../../scripts/lib/ports.cjs';
import { frameTexts } from './pageBridge.mjs';

/** After the extension host ends, its servers have this long to be gone, ports free (issue 6). */
const GONE_WITHIN_MS = 2000;
/** How long the extension host may take to end after the fault. */
const HOST_END_AFTER_FAULT_MS = 15_000;
/** How long a closed window's extension host is given to end by itself before code-server is shut down. */
const CLOSED_WINDOW_HOST_MS = 3000;

const example = path.join(repoRoot, 'examples', 'fastapi');
/** Every server process group the lifetime sessions started: killed at the end, whatever the tests found. */
const startedGroups = new Set();

/** The sessions, each with ports nothing listened on when they were made (fixed ranges collided between sessions). */
export async function faultSessions(scratch) {
  return [
    {
      name: 'multi-root',
      title: 'Multi-root workspace',
      session: 'multiroot',
      workspace: multiRootWorkspace(path.join(scratch, 'multi-root-workspace'), [await freePort(), await freePort()]),
      env: { SERVER_WORKERS_E2E_GREP: '' },
    },
    {
      name: 'untrusted',
      title: 'Untrusted workspace',
      session: 'untrusted',
      workspaceTrust: true,
      workspace: untrustedWorkspace(path.join(scratch, 'untrusted-workspace'), await freePort()),
      env: { SERVER_WORKERS_E2E_GREP: '' },
      afterTests: welcomeSaysUntrusted,
    },
    interpreterSession(scratch, 'interpreter-environments', 'Interpreter from the Python Environments extension (stand-in)', ['python-environments', 'python'], await freePort()),
    interpreterSession(scratch, 'interpreter-python', 'Interpreter from the Python extension (stand-in)', ['python'], await freePort()),
    lifetimeSession(scratch, 'window-closed', 'Window closed while servers run', closeWindow),
    lifetimeSession(scratch, 'host-killed', 'Extension host killed with SIGKILL while servers run', killExtensionHost),
    dashboardReloadSession(scratch),
  ];
}

/** SIGKILL to whatever of the lifetime sessions' servers is still there (the harness's last step). */
export function killLeftovers() {
  for (const pgid of startedGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Multi-root workspace

/**
 * Two folders, "shop" (Gunicorn) and "blog" (Uvicorn), each a copy of the example with a task labelled "api" on a
 * port of its own; returns the .code-workspace file.
 */
function multiRootWorkspace(dir, ports) {
  for (const [index, [name, server]] of [['shop', 'gunicorn'], ['blog', 'uvicorn']].entries()) {
    exampleCopy(path.join(dir, name), { server, bind: `127.0.0.1:${ports[index]}` });
  }
  const file = path.join(dir, 'servers.code-workspace');
  writeJson(file, { folders: [{ path: 'shop' }, { path: 'blog' }] });
  return file;
}

/** A copy of the example in `dir` (its virtualenv linked) whose tasks.json has one task, "api", with `properties`. */
function exampleCopy(dir, properties) {
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  fs.copyFileSync(path.join(example, 'main.py'), path.join(dir, 'main.py'));
  fs.symlinkSync(fs.realpathSync(path.join(example, '.venv')), path.join(dir, '.venv'));
  writeJson(path.join(dir, '.vscode', 'tasks.json'), { version: '2.0.0', tasks: [{ label: 'api', type: 'serverworkers', app: 'main:app', workers: 2, ...properties }] });
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The interpreter the Python extensions select

/** Stand-ins of the Python extensions (test/fixtures/standins/), which cannot be installed here. */
const standins = path.join(repoRoot, 'test', 'fixtures', 'standins');

/**
 * A copy of the example whose "api" task names no interpreter, and the `standins` loaded beside Server Workers. The
 * interpreters they select are wrappers of the test virtualenv's Python that leave a mark in the server's environment
 * (SERVER_WORKERS_INTERPRETER_SEEN), so the tests can tell which one started the server.
 */
function interpreterSession(scratch, name, title, standinNames, port) {
  const dir = path.join(scratch, `${name}-workspace`);
  exampleCopy(path.join(dir, 'app'), { workers: 1, bind: `127.0.0.1:${port}` });
  const wrapper = (mark) => {
    const file = path.join(dir, 'interpreters', `python-${mark}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `#!/bin/sh\nSERVER_WORKERS_INTERPRETER_SEEN=${mark} exec "${path.join(example, '.venv', 'bin', 'python')}" "$@"\n`, { mode: 0o755 });
    return file;
  };
  return {
    name,
    title,
    session: 'interpreter',
    workspace: path.join(dir, 'app'),
    install: standinNames.map((standin) => path.join(standins, standin)),
    env: {
      SERVER_WORKERS_E2E_GREP: '',
      ...(standinNames.includes('python-environments') ? { SERVER_WORKERS_STANDIN_ENVS_PYTHON: wrapper('environments') } : {}),
      SERVER_WORKERS_STANDIN_PYTHON: wrapper('python-extension'),
      SERVER_WORKERS_STANDIN_OTHER_PYTHON: wrapper('other'),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Untrusted workspace

/** A copy of the example whose settings autoStart its "api" task, on a port nothing else uses. */
function untrustedWorkspace(dir, port) {
  exampleCopy(dir, { bind: `127.0.0.1:${port}` });
  writeJson(path.join(dir, '.vscode', 'settings.json'), { 'serverWorkers.autoStart': ['api'] });
  return dir;
}

async function welcomeSaysUntrusted({ page }) {
  return [
    await harnessTest('Untrusted workspace: the Workers view says why nothing starts', async () => {
      const welcome = page.locator('.welcome-view-content').filter({ hasText: 'This workspace is not trusted, so Server Workers does not start servers' });
      await welcome.waitFor({ state: 'visible', timeout: 10_000 }).catch(() => {});
      if (!(await welcome.isVisible())) {
        const shown = await page.locator('.welcome-view-content').allInnerTexts().catch(() => []);
        throw new Error(`the Workers view shows no untrusted-workspace welcome; welcome views shown: ${JSON.stringify(shown)}`);
      }
    }),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Servers left running: the window closes, or the extension host is killed

/**
 * A session whose tests hand over to the harness: once they write the hand-off file (its path in
 * SERVER_WORKERS_E2E_HANDOFF), `afterTests(state, handoff)` acts from outside and reports its own tests.
 */
function handoffSession(scratch, { name, title, session, afterTests }) {
  const handoff = path.join(scratch, name, 'handoff.json');
  return {
    name,
    title,
    session,
    workspace: example,
    env: { SERVER_WORKERS_E2E_HANDOFF: handoff, SERVER_WORKERS_E2E_GREP: '' },
    handoff,
    afterTests: (state) => afterTests(state, handoff),
  };
}

function lifetimeSession(scratch, name, title, fault) {
  return handoffSession(scratch, {
    name,
    title,
    session: 'lifetime',
    afterTests: async (state, handoff) => [
      await harnessTest(`${title}: within 2 s of the extension host's end no process of the servers remains, and their ports are free`, async () => {
        const { extensionHostPid, servers } = JSON.parse(fs.readFileSync(handoff, 'utf8'));
        for (const server of servers) startedGroups.add(server.masterPid);
        const hostPids = extensionHostsOf(state.server.child.pid);
        if (!hostPids.includes(extensionHostPid)) {
          const tests = `${extensionHostPid} (${alive(extensionHostPid) ? `ppid ${statField(extensionHostPid, 1)}: ${cmdline(extensionHostPid).slice(0, 160)}` : 'gone'})`;
          throw new Error(`the tests ran in pid ${tests}, but code-server's (pid ${state.server.child.pid}) extension hosts are ${JSON.stringify(hostPids)}`);
        }
        if (!servers.every((s) => s.pids.every(alive))) {
          throw new Error(`before the fault, not every process of the servers runs: ${JSON.stringify(servers)}`);
        }
        const faultAt = Date.now();
        const how = await fault(state, extensionHostPid);
        const hostEnd = await waitFor(() => !alive(extensionHostPid), HOST_END_AFTER_FAULT_MS);
        if (hostEnd === undefined) throw new Error(`the extension host (pid ${extensionHostPid}) still runs ${HOST_END_AFTER_FAULT_MS} ms after the fault`);
        const hostEndedAfter = hostEnd - faultAt;
        const goneAt = await waitFor(async () => serverProcesses(servers).length === 0 && (await portsFree(servers)), GONE_WITHIN_MS, hostEnd);
        if (goneAt === undefined) {
          const left = serverProcesses(servers).map((pid) => `${pid} ${cmdline(pid).slice(0, 120)}`);
          const busy = [];
          for (const s of servers) if (!(await portFree(s.port))) busy.push(s.port);
          throw new Error(`${GONE_WITHIN_MS} ms after the extension host ended (${hostEndedAfter} ms after the fault): still running ${JSON.stringify(left)}; ports in use ${JSON.stringify(busy)}`);
        }
        return `${how}; the extension host ended ${hostEndedAfter} ms after the fault; ${servers.map((s) => s.name).join(', ')} gone ${goneAt - hostEnd} ms after it`;
      }),
    ],
  });
}

/**
 * Closes the browser. code-server keeps the extension host of a closed window for its reconnection grace time (3
 * hours in 4.100 and 4.139), so when the host has not ended within CLOSED_WINDOW_HOST_MS, code-server is shut down
 * (SIGTERM to its main process): it disposes the extension host as it would when the grace time ends.
 */
async function closeWindow(state, extensionHostPid) {
  await state.context.close();
  state.context = null;
  if ((await waitFor(() => !alive(extensionHostPid), CLOSED_WINDOW_HOST_MS)) !== undefined) return 'the extension host ended with the window';
  process.kill(state.server.child.pid, 'SIGTERM');
  return `the extension host outlived the window by ${CLOSED_WINDOW_HOST_MS} ms (code-server's reconnection grace): code-server shut down`;
}

async function killExtensionHost(_state, extensionHostPid) {
  process.kill(extensionHostPid, 'SIGKILL');
  return 'SIGKILL';
}

/** The extension host processes that code-server (`rootPid`) runs: its descendants started with --type=extensionHost. */
function extensionHostsOf(rootPid) {
  const descendants = new Set([rootPid]);
  const all = procEntries().map((pid) => ({ pid, ppid: statField(pid, 1) }));
  for (let grew = true; grew; ) {
    grew = false;
    for (const { pid, ppid } of all) {
      if (!descendants.has(pid) && descendants.has(ppid)) {
        descendants.add(pid);
        grew = true;
      }
    }
  }
  return [...descendants].filter((pid) => cmdline(pid).includes('--type=extensionHost'));
}

/** The live processes of the servers: the pids handed over and every member of their masters' process groups. */
function serverProcesses(servers) {
  const groups = new Set(servers.map((s) => s.masterPid));
  const known = new Set(servers.flatMap((s) => s.pids));
  return procEntries().filter((pid) => alive(pid) && (known.has(pid) || groups.has(statField(pid, 2))));
}

async function portsFree(servers) {
  for (const server of servers) if (!(await portFree(server.port))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The dashboard across a window reload

function dashboardReloadSession(scratch) {
  const title = 'Window reload with the dashboard open';
  return handoffSession(scratch, {
    name: 'dashboard-reload',
    title,
    session: 'dashboardReload',
    afterTests: async ({ page }, handoff) => [
      await harnessTest(`${title}: the panel comes back on its server (the serializer) and goes on with the server's next run`, async () => {
        const { serverName } = JSON.parse(fs.readFileSync(handoff, 'utf8'));
        const reloadedAt = Date.now();
        // The workbench's own reload (a browser reload would not let it save which editors were open).
        await page.keyboard.press('F1');
        await page.locator('.quick-input-widget input').fill('>Developer: Reload Window');
        await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Developer: Reload Window' }).first().waitFor({ timeout: 15_000 });
        await page.keyboard.press('Enter');
        await page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout: 30_000 });
        const named = await waitFor(async () => (await frameTexts(page, '#dashboard #server-name'))?.[0] === serverName, 90_000);
        if (named === undefined) throw new Error(`no frame shows a dashboard of ${serverName} within 90 s of the reload`);
        const running = await waitFor(async () => (await frameTexts(page, '#server-state'))?.[0] === 'running', 90_000);
        if (running === undefined) throw new Error(`the restored dashboard did not follow ${serverName}'s new run (it says ${JSON.stringify(await frameTexts(page, '#server-state'))})`);
        const chips = await frameTexts(page, '#workers .chip .pid');
        if (!chips || chips.length !== 2) throw new Error(`the restored dashboard shows the workers ${JSON.stringify(chips)}`);
        return `the panel named ${serverName} ${named - reloadedAt} ms after the reload, and followed its new run ${running - reloadedAt} ms after it`;
      }),
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// /proc

function procEntries() {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Fields after the command of /proc/<pid>/stat: 0 state, 1 ppid, 2 pgrp. */
function statField(pid, index) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const field = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[index];
    return index === 0 ? field : Number(field);
  } catch {
    return undefined;
  }
}

/** In /proc and not a zombie. */
function alive(pid) {
  const state = statField(pid, 0);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Polls `probe` every 50 ms until it holds; the time it held, or undefined after `withinMs` from `since`. */
async function waitFor(probe, withinMs, since = Date.now()) {
  for (;;) {
    if (await probe()) return Date.now();
    if (Date.now() > since + withinMs) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A check run by the harness, as a test result like the mocha ones. */
async function harnessTest(title, check) {
  const started = Date.now();
  try {
    const note = await check();
    if (note) console.log(`[e2e] ${title}: ${note}`);
    return { title, file: 'faultSessions.mjs', state: 'passed', durationMs: Date.now() - started };
  } catch (error) {
    return { title, file: 'faultSessions.mjs', state: 'failed', durationMs: Date.now() - started, error: error.stack ?? String(error) };
  }
}
