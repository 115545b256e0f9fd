// The benchmark's mode d: the same server under PM2, the process manager users pick instead (the npm package, a
// devDependency used by the benchmark only). Its home (PM2_HOME) is a scratch folder, so the user's own PM2 and its
// daemon are never touched; the server's output goes to PM2's log files, as PM2 users run it.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { delay, plainServerArgv, processTree, python, waitForWorkers } from './lib.mjs';

const require = createRequire(import.meta.url);

function pm2Cli() {
  try {
    return path.join(path.dirname(require.resolve('pm2/package.json')), 'bin', 'pm2');
  } catch {
    throw new Error('PM2 is not installed: run npm install (pm2 is a devDependency of the benchmark)');
  }
}

function pm2(home, args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [pm2Cli(), ...args], { env: { ...process.env, PM2_HOME: home }, timeout: 60000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`pm2 ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** PM2 starts the server's argv (the adapter's, as for a, b and c) from an ecosystem file; resolves once its workers serve. */
export async function startPm2Server(core, { app, cwd, workers, env = {}, args = [] }) {
  // Not named server-workers-*: every supervisor of this user sweeps such folders once they are a minute old.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-pm2-'));
  const { port, definition, argv } = await plainServerArgv(core, { app, cwd, workers, env, args }, home);
  const ecosystem = path.join(home, 'ecosystem.json');
  fs.writeFileSync(ecosystem, JSON.stringify({
    apps: [{
      name: 'bench', script: python, args: argv, interpreter: 'none', cwd, autorestart: false,
      env: { ...definition.env, PYTHONUNBUFFERED: '1' },
      out_file: path.join(home, 'logs', 'bench-out.log'), error_file: path.join(home, 'logs', 'bench-error.log'),
    }],
  }));
  let masterPid;
  const server = {
    kind: 'pm2',
    port,
    home,
    get pid() {
      return masterPid;
    },
    /** PM2's daemon (the God process): it pipes the server's output into the log files. */
    daemonPid: undefined,
    logBytes: () => ['bench-out.log', 'bench-error.log'].reduce((sum, f) => sum + (fs.statSync(path.join(home, 'logs', f), { throwIfNoEntry: false })?.size ?? 0), 0),
    async stop() {
      const left = [...(masterPid ? processTree(masterPid) : []), ...(server.daemonPid ? [server.daemonPid] : [])];
      await pm2(home, ['kill']).catch(() => undefined);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await delay(100);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await pm2(home, ['start', ecosystem]);
    const [entry] = JSON.parse(await pm2(home, ['jlist']));
    masterPid = entry?.pid;
    server.daemonPid = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'));
    if (!masterPid) throw new Error(`PM2 did not start the server: ${JSON.stringify(entry ?? null)}`);
    await waitForWorkers(masterPid, workers, () => !fs.existsSync(`/proc/${masterPid}`));
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
