/**
 * The `systemd` format: a service unit that runs the task's server with the project's interpreter, its preLaunch
 * steps first, restarts it on failure as the task says, caps its memory and starts it at boot, as a non-root user.
 */
import { appName, envCaveats, envEntries, headerLines, outsidePaths } from './analysis';
import { commentLines, optionLines, systemdQuoted, systemdWord } from './quoting';
import { serverArgv, serverMemoryMb } from './serverCommand';
import type { Caveat, ExportInput, ExportResult } from './types';

/** Seconds systemd waits past the server's own graceful timeout before it kills what is left. */
export const STOP_MARGIN_SECONDS = 5;
/** The window StartLimitBurst= counts starts in. */
const START_LIMIT_INTERVAL_SECONDS = 300;

export function exportSystemd(input: ExportInput): ExportResult {
  const def = input.definition;
  const name = appName(input);
  const envFile = `/etc/${name}/${name}.env`;
  const entries = envEntries(input);
  const caveats: Caveat[] = [
    ...envCaveats(entries, (key) => `put ${key}=... in ${envFile} (EnvironmentFile=, readable by root only)`),
    ...outsidePaths(input, ['certfile', 'keyfile', 'python', 'args', 'env']).map(({ property, file }) => ({
      property, message: `${file} is outside the project: the unit names it as it is, so it must exist on the machine that runs the unit.`,
    })),
  ];
  const python = def.python;
  const tls = def.certfile && def.keyfile ? { certfile: def.certfile, keyfile: def.keyfile } : undefined;
  const argv = serverArgv(input, def.workers, { host: def.host, port: def.port, tls });
  const command = (words: readonly string[]) => optionLines(words, systemdWord).map((o) => o.join(' ')).join(' \\\n    ');

  const unit: string[] = [
    '[Unit]',
    `Description=${def.name} (${def.server} ${def.app}, ${def.workers} workers)`.replace(/%/g, '%%'),
    'Wants=network-online.target',
    'After=network-online.target',
  ];
  if (def.restart === 'on-failure') {
    unit.push(
      `# restartMax ${def.restartMax}: the first start and ${def.restartMax} restarts in ${START_LIMIT_INTERVAL_SECONDS / 60} minutes, then systemd gives up.`,
      `StartLimitIntervalSec=${START_LIMIT_INTERVAL_SECONDS}`,
      `StartLimitBurst=${def.restartMax + 1}`,
    );
  }
  const service: string[] = [
    '',
    '[Service]',
    'Type=exec',
    `# A user without a login, made once: sudo useradd --system --no-create-home --shell /usr/sbin/nologin ${name}`,
    `User=${name}`,
    `Group=${name}`,
    '# cwd',
    `WorkingDirectory=${systemdWord(def.cwd)}`,
    'Environment=PYTHONUNBUFFERED=1',
  ];
  for (const entry of entries) if (entry.kind === 'plain') service.push(`Environment=${systemdQuoted(`${entry.key}=${entry.value}`)}`);
  if (entries.some((e) => e.kind !== 'plain')) {
    service.push(`# env: ${entries.filter((e) => e.kind !== 'plain').map((e) => e.key).join(', ')} (not copied: see the top of this file)`, `EnvironmentFile=${envFile}`);
  }
  for (const [i, step] of def.preLaunch.entries()) {
    service.push(`# preLaunch[${i}]`, `ExecStartPre=${command(step[0] === 'python' ? [python, ...step.slice(1)] : step)}`);
  }
  service.push(`# server, app, workers, bind${def.server === 'gunicorn' ? ', workerClass, timeout' : ''}, gracefulTimeout, args; python: the interpreter`);
  service.push(`ExecStart=${command([python, ...argv])}`);
  if (def.restart === 'on-failure') service.push('# restart', 'Restart=on-failure', 'RestartSec=2');
  else service.push('# restart: never', 'Restart=no');
  service.push(
    `# gracefulTimeout ${def.gracefulTimeout} s: SIGTERM to the master first (KillMode=mixed), everything left is killed ${STOP_MARGIN_SECONDS} s after that.`,
    'KillMode=mixed',
    `TimeoutStopSec=${def.gracefulTimeout + STOP_MARGIN_SECONDS}`,
  );
  if (def.maxMemoryMb !== undefined) {
    const perWorker = def.server === 'granian' ? ' (and Granian recycles a worker past it itself: --workers-max-rss)' : '';
    service.push(
      `# maxMemoryMb ${def.maxMemoryMb} per worker${perWorker}: the whole service may use ${def.workers} workers + the master x ${def.maxMemoryMb} MiB.`,
      `MemoryMax=${serverMemoryMb(def.maxMemoryMb, def.workers)}M`,
    );
  }
  service.push('NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectSystem=full');
  const install = ['', '[Install]', '# Starts at boot once enabled (systemctl enable): what autoStart does in the editor.', 'WantedBy=multi-user.target', ''];

  const fileName = `${name}.service`;
  const header = headerLines(input, 'A systemd service unit', caveats, [
    '',
    `Install: sudo cp ${fileName} /etc/systemd/system/ && sudo systemctl daemon-reload && sudo systemctl enable --now ${name}`,
    'Each setting names the task property it came from.',
  ]);
  return {
    format: 'systemd',
    files: [{ name: fileName, text: [...commentLines(header), '', ...unit, ...service, ...install].join('\n') }],
    caveats,
    next: [
      `Create its user once: sudo useradd --system --no-create-home --shell /usr/sbin/nologin ${name}`,
      ...(entries.some((e) => e.kind !== 'plain') ? [`Put the secrets in ${envFile}`] : []),
      `Install: sudo cp ${fileName} /etc/systemd/system/ && sudo systemctl daemon-reload && sudo systemctl enable --now ${name}`,
    ],
  };
}
