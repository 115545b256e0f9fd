// code-server from npm: VS Code's server, web workbench and Node extension host, in the versions the tests run in.
// What each version needs, whether its install is usable, and starting one isolated with the extension loaded.
// See /work/shared/notes/vscode-in-ci.md (project notes) for why code-server and how.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { vscodeTestDir } from './paths.mjs';
import { freePort } from './ports.cjs';
import { capture, cleanEnv, killGroup, SetupError } from './process.mjs';
import { nodeBinary, nodeProblem } from './nodeRuntimes.mjs';

/**
 * The code-servers, each in .vscode-test/code-server-<version>/: VS Code 1.100.3, the engines.vscode minimum, and
 * 1.139.1, the newest. Each runs on the Node major its release is built for (its postinstall refuses another, its
 * native modules need it).
 */
export const CODE_SERVERS = [
  {
    version: '4.100.3',
    vscode: '1.100.3',
    nodeMajor: 20,
    // Files whose presence shows that the native parts of the install worked.
    nativeFiles: [
      'lib/vscode/node_modules/node-pty/build/Release/pty.node',
      'lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node',
      'lib/vscode/node_modules/@vscode/ripgrep/bin/rg',
      'lib/vscode/node_modules/kerberos/build/Release/kerberos.node',
      'lib/vscode/node_modules/native-watchdog/build/Release/watchdog.node',
    ],
    // @vscode/ripgrep@1.15.11's postinstall looks for this tarball before it downloads rg from GitHub.
    ripgrepCache: path.join('vscode-ripgrep-cache-1.15.11', 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'),
    extraArgs: [],
  },
  {
    version: '4.139.1',
    vscode: '1.139.1',
    nodeMajor: 24,
    // Its native modules sit elsewhere than 4.100's: node-pty's prebuilt binary, @vscode/native-watchdog, and rg
    // ships inside @vscode/ripgrep-universal (no download, no cache to fill).
    nativeFiles: [
      'lib/vscode/node_modules/node-pty/prebuilds/linux-x64/pty.node',
      'lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node',
      'lib/vscode/node_modules/@vscode/ripgrep-universal/bin/linux-x64/rg',
      'lib/vscode/node_modules/kerberos/build/Release/kerberos.node',
      'lib/vscode/node_modules/@vscode/native-watchdog/build/Release/watchdog.node',
    ],
    ripgrepCache: null,
    // Without it, 1.139's workbench ignores the URL's payload (the extension under development, the tests module).
    extraArgs: ['--vscode-option', 'enable-smoke-test-driver'],
  },
].map((server) => {
  const dir = path.join(vscodeTestDir, `code-server-${server.version}`);
  const packageDir = path.join(dir, 'node_modules', 'code-server');
  return { ...server, dir, packageDir, entry: path.join(packageDir, 'out', 'node', 'entry.js') };
});

/** What `npm start` and the main e2e phase use: the oldest VS Code the extension supports. */
export const DEFAULT_CODE_SERVER = CODE_SERVERS[0];

/**
 * The code-server of this version (4.139.1) or VS Code version (1.139, 1.139.1), DEFAULT_CODE_SERVER when `version`
 * is empty; throws SetupError when there is none.
 */
export function codeServerFor(version) {
  if (!version) return DEFAULT_CODE_SERVER;
  const found = CODE_SERVERS.find((c) => c.version === version || c.vscode === version || c.vscode.startsWith(`${version}.`));
  if (!found) {
    const known = CODE_SERVERS.map((c) => `${c.version} (VS Code ${c.vscode})`).join(', ');
    throw new SetupError(`no code-server for ${JSON.stringify(version)}; known: ${known}`);
  }
  return found;
}

/** The node binary a code-server runs on. */
export function codeServerNode(codeServer) {
  return nodeBinary(codeServer.nodeMajor);
}

/** An environment for a code-server process that writes nothing outside `scratch`. */
export function isolatedEnv(scratch, extra = {}) {
  const dirs = {
    XDG_DATA_HOME: path.join(scratch, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(scratch, 'xdg-config'),
    XDG_CACHE_HOME: path.join(scratch, 'xdg-cache'),
    XDG_STATE_HOME: path.join(scratch, 'xdg-state'),
    TMPDIR: path.join(scratch, 'tmp'),
  };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return cleanEnv({ ...dirs, ...extra });
}

/** Why the installed code-server is not usable, or null when it is. */
export function codeServerProblem(codeServer = DEFAULT_CODE_SERVER) {
  if (!fs.existsSync(codeServer.entry)) return 'not installed';
  for (const rel of codeServer.nativeFiles) {
    if (!fs.existsSync(path.join(codeServer.packageDir, rel))) return `missing ${rel}`;
  }
  const nodeMissing = nodeProblem(codeServer.nodeMajor);
  if (nodeMissing) return `Node ${codeServer.nodeMajor}: ${nodeMissing}`;
  const scratch = path.join(codeServer.dir, 'check');
  const result = capture(codeServerNode(codeServer), [codeServer.entry, '--version'], {
    env: isolatedEnv(scratch),
    timeout: 60_000,
  });
  fs.rmSync(scratch, { recursive: true, force: true });
  if (result.status !== 0) return `--version failed: ${(result.stderr || result.stdout).trim().slice(-2000)}`;
  if (!result.stdout.includes(`${codeServer.version} `)) return `unexpected --version output: ${result.stdout.trim()}`;
  return null;
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(null));
    request.setTimeout(2000, () => request.destroy());
  });
}

/** Writes the user settings of a run: ours, then what the folder already had, then `settings`. */
function writeUserSettings(userDataDir, { settings, workspaceTrust }) {
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  const settingsFile = path.join(userDataDir, 'User', 'settings.json');
  let current = {};
  try {
    current = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
  } catch {
    // absent (or not plain JSON): start from ours
  }
  fs.writeFileSync(
    settingsFile,
    JSON.stringify(
      {
        'workbench.startupEditor': 'none', // the welcome page steals focus otherwise
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'workbench.tips.enabled': false,
        'git.openRepositoryInParentFolders': 'never', // examples/ sit in this repo: no toast about it
        ...current,
        ...(workspaceTrust ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' } : {}),
        ...settings,
      },
      null,
      2,
    ) + '\n',
  );
}

/**
 * Starts `codeServer` isolated in `scratch` (XDG dirs, TMPDIR, user data, extensions, config all inside it), bound
 * to 127.0.0.1:port, in its own process group. Resolves once it answers HTTP. Workspace Trust is off unless
 * `workspaceTrust` is true: then it is on, without the startup prompt, so the workspace opens untrusted.
 * Returns { child, port, baseUrl, scratch, userDataDir, extensionsDir, logFile, stop() }.
 */
export async function startCodeServer({
  codeServer = DEFAULT_CODE_SERVER,
  scratch,
  workspace,
  port,
  extensionsDir,
  userDataDir,
  settings = {},
  env = {},
  extraArgs = [],
  workspaceTrust = false,
  output = 'file', // 'file': code-server's output to scratch/code-server.log; 'inherit': to this terminal
} = {}) {
  fs.mkdirSync(scratch, { recursive: true });
  port = port || (await freePort());
  userDataDir = userDataDir || path.join(scratch, 'user-data');
  extensionsDir = extensionsDir || path.join(scratch, 'extensions');
  fs.mkdirSync(extensionsDir, { recursive: true });
  writeUserSettings(userDataDir, { settings, workspaceTrust });
  const configFile = path.join(scratch, 'config.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const args = [
    codeServer.entry,
    '--config', configFile,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    ...codeServer.extraArgs,
    ...extraArgs,
    workspace,
  ];
  const logFile = path.join(scratch, 'code-server.log');
  const logFd = output === 'inherit' ? null : fs.openSync(logFile, 'w');
  const child = spawn(codeServerNode(codeServer), args, {
    cwd: scratch,
    env: isolatedEnv(scratch, env),
    detached: true, // its own process group: stop() ends code-server, its extension hosts and their children
    stdio: output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', logFd, logFd],
  });
  if (logFd !== null) fs.closeSync(logFd);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = () => killGroup(child.pid);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      const tail = logFd !== null ? fs.readFileSync(logFile, 'utf8').slice(-3000) : '';
      throw new SetupError(`code-server exited (${exited.code ?? exited.signal}) before it answered\n${tail}`);
    }
    if ((await httpStatus(`${baseUrl}/healthz`)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new SetupError(`code-server did not answer on ${baseUrl} within 60 s (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, port, baseUrl, scratch, userDataDir, extensionsDir, logFile, stop };
}

/**
 * The workbench URL that opens `workspace` with the extension under development loaded (and its tests run, when
 * extensionTestsPath is given): VS Code's web `payload`, as its own web integration tests use it.
 */
export function workbenchUrl({ port, workspace, extensionDevelopmentPath, extensionTestsPath }) {
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  payload.push(['skipWelcome', 'true']);
  return (
    `http://127.0.0.1:${port}/?${workspace.endsWith('.code-workspace') ? 'workspace' : 'folder'}=${encodeURIComponent(workspace)}` +
    `&payload=${encodeURIComponent(JSON.stringify(payload))}`
  );
}
