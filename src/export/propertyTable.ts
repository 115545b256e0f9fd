/**
 * The one table from a task property to the setting each format writes for it. The README's "To production" table
 * is rendered from it (test/unit/exportTable.test.ts checks the README holds exactly that), and the same test exports
 * a task with each property set and finds, in each format's files, the setting a cell names first in `backticks`.
 * A cell without backticks says why nothing is written; "—" means the property does not apply there.
 */

export type TableColumn = 'gunicorn' | 'uvicorn' | 'granian' | 'hypercorn' | 'systemd' | 'container' | 'compose' | 'kubernetes';

export const TABLE_COLUMNS: ReadonlyArray<{ id: TableColumn; title: string }> = [
  { id: 'gunicorn', title: 'gunicorn.conf.py' },
  { id: 'uvicorn', title: 'Uvicorn: serve.sh' },
  { id: 'granian', title: 'Granian: serve.sh' },
  { id: 'hypercorn', title: 'hypercorn.toml' },
  { id: 'systemd', title: 'systemd unit' },
  { id: 'container', title: 'Dockerfile' },
  { id: 'compose', title: 'compose.yaml' },
  { id: 'kubernetes', title: 'Kubernetes' },
];

export interface TableRow {
  /** The task property (or setting, or flag) as the README names it. */
  property: string;
  cells: Record<TableColumn, string>;
}

const SERVER_FLAGS = "the server's flags in `ExecStart=`";

export const PROPERTY_TABLE: readonly TableRow[] = [
  {
    property: 'app',
    cells: {
      gunicorn: '`wsgi_app`', uvicorn: '`-m uvicorn` APP', granian: '`-m granian` APP', hypercorn: 'the start command',
      systemd: '`ExecStart=`', container: '`CMD`', compose: '`command`', kubernetes: '`command`',
    },
  },
  {
    property: 'workers',
    cells: {
      gunicorn: '`workers`', uvicorn: '`--workers`', granian: '`--workers`', hypercorn: '`workers`', systemd: '`--workers` in `ExecStart=`',
      container: 'one server process per container; `--workers` N with --workers-in-container',
      compose: '`deploy.replicas` (one process each); 1 replica of N workers with --workers-in-container',
      kubernetes: '`spec.replicas`, one process per pod',
    },
  },
  {
    property: 'bind',
    cells: {
      gunicorn: '`bind`', uvicorn: '`--host`, `--port`', granian: '`--host`, `--port`', hypercorn: '`bind`', systemd: SERVER_FLAGS,
      container: '`EXPOSE` the port; the server listens on 0.0.0.0 inside', compose: '`ports`: the task\'s host publishes the port (a range for replicas)',
      kubernetes: '`containerPort`, and the Service\'s port 80',
    },
  },
  {
    property: 'workerClass',
    cells: {
      gunicorn: '`worker_class`', uvicorn: '—', granian: '—', hypercorn: '—', systemd: '`--worker-class`',
      container: '`--worker-class`; a Uvicorn worker becomes one `uvicorn` process per container',
      compose: '`--worker-class`, as in the Dockerfile', kubernetes: '`--worker-class`, as in the Dockerfile',
    },
  },
  {
    property: 'interface',
    cells: {
      gunicorn: '—', uvicorn: '—', granian: '`--interface`', hypercorn: '—', systemd: '`--interface`', container: '`--interface`',
      compose: '`--interface`', kubernetes: '`--interface`',
    },
  },
  {
    property: 'timeout',
    cells: {
      gunicorn: '`timeout`', uvicorn: 'Uvicorn has no worker timeout', granian: 'Granian has no worker timeout', hypercorn: 'Hypercorn has no worker timeout',
      systemd: '`--timeout`', container: '`--timeout` where Gunicorn runs', compose: '`--timeout` where Gunicorn runs',
      kubernetes: '`livenessProbe` (and `--timeout` where Gunicorn runs)',
    },
  },
  {
    property: 'gracefulTimeout',
    cells: {
      gunicorn: '`graceful_timeout`', uvicorn: '`--timeout-graceful-shutdown`', granian: '`--workers-kill-timeout`', hypercorn: '`graceful_timeout`',
      systemd: '`TimeoutStopSec=` (+5 s), `KillMode=mixed`', container: '`STOPSIGNAL` and the server\'s flag', compose: '`stop_grace_period` (+5 s)',
      kubernetes: '`terminationGracePeriodSeconds` (+5 s)',
    },
  },
  {
    property: 'certfile, keyfile',
    cells: {
      gunicorn: '`certfile`, `keyfile`', uvicorn: '`--ssl-certfile`, `--ssl-keyfile`', granian: '`--ssl-certificate`, `--ssl-keyfile`', hypercorn: '`certfile`, `keyfile`',
      systemd: SERVER_FLAGS, container: '`/run/secrets/` (mounted when it runs, never in the image)', compose: '`secrets`',
      kubernetes: '`tls`: an Ingress with a TLS secret; the pod serves HTTP',
    },
  },
  {
    property: 'env',
    cells: {
      gunicorn: '`raw_env`', uvicorn: '`export`', granian: '`export`', hypercorn: 'the environment it starts in',
      systemd: '`Environment=`; a secret in `EnvironmentFile=`', container: '`ENV`; a secret only when it runs', compose: '`environment`; a secret as ${NAME:?...}, from the shell or .env',
      kubernetes: '`env`; a secret from a `secretKeyRef`',
    },
  },
  {
    property: 'args',
    cells: {
      gunicorn: 'on the start line, after `-c` and the file', uvicorn: 'appended to the command', granian: 'appended to the command', hypercorn: 'the start command',
      systemd: '`ExecStart=`', container: '`CMD`', compose: '`command`', kubernetes: '`command`',
    },
  },
  {
    property: 'preLaunch',
    cells: {
      gunicorn: 'named on the start line: run them first', uvicorn: 'run by serve.sh first', granian: 'run by serve.sh first', hypercorn: 'named on the start line: run them first',
      systemd: '`ExecStartPre=`', container: '`docker run --rm` once (said in the file)', compose: 'one-off services the app waits for (`service_completed_successfully`)',
      kubernetes: 'a `Job`: once, not per pod',
    },
  },
  {
    property: 'maxMemoryMb',
    cells: {
      gunicorn: 'no per-worker limit in Gunicorn: the unit\'s MemoryMax=', uvicorn: 'no per-worker limit in Uvicorn', granian: '`--workers-max-rss`', hypercorn: '—',
      systemd: '`MemoryMax=` (workers + 1) x the limit', container: '`--memory` when it runs (said in the file)', compose: '`deploy.resources.limits.memory`',
      kubernetes: '`resources.limits.memory`',
    },
  },
  {
    property: 'restart',
    cells: {
      gunicorn: 'the service manager\'s', uvicorn: 'the service manager\'s', granian: 'the service manager\'s', hypercorn: 'the service manager\'s',
      systemd: '`Restart=`', container: '`--restart` when it runs (said in the file)', compose: '`restart`', kubernetes: 'always: a Deployment restarts its pods',
    },
  },
  {
    property: 'restartMax',
    cells: {
      gunicorn: '—', uvicorn: '—', granian: '—', hypercorn: '—', systemd: '`StartLimitBurst=` restartMax + 1', container: '`on-failure:` N with --restart',
      compose: '`on-failure:` N', kubernetes: 'the prelaunch Job\'s `backoffLimit`; pods back off (CrashLoopBackOff)',
    },
  },
  {
    property: 'python',
    cells: {
      gunicorn: 'the start line', uvicorn: '`exec`', granian: '`exec`', hypercorn: 'the start line', systemd: '`ExecStart=` (its path)',
      container: '`FROM` python:X.Y-slim, the interpreter\'s minor version', compose: '`build`: the Dockerfile', kubernetes: '`image`: the Dockerfile\'s',
    },
  },
  {
    property: 'cwd',
    cells: {
      gunicorn: '`chdir`', uvicorn: '`cd`', granian: '`cd`', hypercorn: 'the start line', systemd: '`WorkingDirectory=`', container: '`WORKDIR`',
      compose: 'the image\'s WORKDIR', kubernetes: 'the image\'s WORKDIR',
    },
  },
  {
    property: 'the autoStart setting',
    cells: {
      gunicorn: '—', uvicorn: '—', granian: '—', hypercorn: '—', systemd: '`WantedBy=multi-user.target`', container: '`--restart` (said in the file)',
      compose: '`restart`', kubernetes: 'always',
    },
  },
  {
    property: '--health-path (export\'s own)',
    cells: {
      gunicorn: '—', uvicorn: '—', granian: '—', hypercorn: '—', systemd: '—', container: '`HEALTHCHECK`', compose: '`healthcheck`',
      kubernetes: '`readinessProbe`, `livenessProbe`',
    },
  },
  {
    property: 'reload, insight',
    cells: {
      gunicorn: 'development only', uvicorn: 'development only', granian: 'development only', hypercorn: 'development only', systemd: 'development only',
      container: 'development only', compose: 'development only', kubernetes: 'development only',
    },
  },
];

/** The first setting a cell names (its first `backticked` part), or undefined when it names none. */
export function cellSetting(cell: string): string | undefined {
  return /`([^`]+)`/.exec(cell)?.[1];
}

/** The table in Markdown, as the README holds it. */
export function renderPropertyTable(): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    `| task property | ${TABLE_COLUMNS.map((c) => c.title).join(' | ')} |`,
    `| --- | ${TABLE_COLUMNS.map(() => '---').join(' | ')} |`,
    ...PROPERTY_TABLE.map((row) => `| ${row.property.replace(/^\w+(, \w+)*$/, (names) => names.split(', ').map((n) => `\`${n}\``).join(', '))} | ${TABLE_COLUMNS.map((c) => escape(row.cells[c.id])).join(' | ')} |`),
  ];
  return lines.join('\n');
}
