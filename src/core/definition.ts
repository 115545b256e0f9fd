/** What a user writes in a `serverworkers` task (or on the CLI), and its validation into a resolved form. */
import { type ReloadProperty, type ReloadSettings, resolveReloadProperty } from './reloadSettings';

export type ServerKind = 'gunicorn' | 'uvicorn' | 'granian' | 'hypercorn';
export const SERVER_KINDS: readonly ServerKind[] = ['gunicorn', 'uvicorn', 'granian', 'hypercorn'];
/** Granian's `--interface`: how it calls the app (`asginl`: ASGI without the lifespan protocol). */
export type GranianInterface = 'asgi' | 'asginl' | 'rsgi' | 'wsgi';
export const GRANIAN_INTERFACES: readonly GranianInterface[] = ['asgi', 'asginl', 'rsgi', 'wsgi'];
export const MAX_WORKERS = 64;
export const DEFAULT_BIND = '127.0.0.1:8000';
export const DEFAULT_GRACEFUL_TIMEOUT = 10;

export interface ServerDefinition {
  name?: string;
  server?: ServerKind;
  app: string;
  workers?: number;
  bind?: string;
  workerClass?: string;
  /** Granian only: the app's interface (default asgi). */
  interface?: GranianInterface;
  python?: string;
  cwd?: string;
  env?: Record<string, string>;
  args?: string[];
  timeout?: number;
  gracefulTimeout?: number;
  certfile?: string;
  keyfile?: string;
  /** Commands run in order before the server starts, each an argv array; "python" means the server's interpreter. */
  preLaunch?: string[][];
  /** A worker whose resident memory passes this many MiB is recycled gracefully. */
  maxMemoryMb?: number;
  /** What happens when the master dies unexpectedly after it was running. */
  restart?: RestartPolicy;
  /** How many such restarts in a row before giving up. */
  restartMax?: number;
  /** Request insight: the agent counts each worker's requests (default true; needs the agent). */
  insight?: boolean;
  /** Reload on save: true, false, or which files (globs under cwd); unset: the serverWorkers.reloadOnSave setting. */
  reload?: ReloadProperty;
  /** Seconds a reload's new code may take to import and boot before the save is refused; unset: serverWorkers.reloadTimeout. */
  reloadTimeout?: number;
}

export type RestartPolicy = 'never' | 'on-failure';
export const DEFAULT_RESTART_MAX = 3;

export interface ResolvedDefinition {
  name: string;
  server: ServerKind;
  app: string;
  workers: number;
  host: string;
  port: number;
  workerClass?: string;
  /** granian: the interface it calls the app by ("asgi" when not given); other servers: undefined. */
  interface?: GranianInterface;
  python: string;
  cwd: string;
  env: Record<string, string>;
  args: string[];
  timeout?: number;
  gracefulTimeout: number;
  certfile?: string;
  keyfile?: string;
  preLaunch: string[][];
  maxMemoryMb?: number;
  restart: RestartPolicy;
  restartMax: number;
  insight: boolean;
  /** `workers` was not given: it came from the CPU count. */
  workersDefaulted: boolean;
  reload: ReloadSettings;
  /** The definition's `reloadTimeout`; undefined: the supervisor's (the setting, else 60 s). */
  reloadTimeout?: number;
}

export interface ResolveContext {
  /** Interpreter to use when the definition names none. */
  defaultPython: string;
  /** Working directory when the definition names none. */
  defaultCwd: string;
  /** Worker count when the definition names none. */
  defaultWorkers: number;
}

export class DefinitionError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `The server definition has ${problems.length} problems:\n- ${problems.join('\n- ')}`);
    this.name = 'DefinitionError';
  }
}

const APP_PATTERN = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w.]*(\(.*\))?$/;

/** Worker count from the CPU count: Gunicorn's documented (2 x cores) + 1, capped. */
export function defaultWorkerCount(cpus: number): number {
  return Math.min(MAX_WORKERS, Math.max(1, 2 * cpus + 1));
}

/**
 * True when the server listens on every interface (reachable from other machines): the any-address in every spelling
 * the resolver accepts, `0.0.0.0`, `0`, `0x0`, `0.0`, `::`, `::0`, `0:0:0:0:0:0:0:0`, `::ffff:0.0.0.0` and the like.
 */
export function bindsAllInterfaces(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.includes(':')) return isIPv6Any(bare);
  return isIPv4Any(bare);
}

/** inet_aton's forms: one to four parts, each decimal, octal (0...) or hex (0x...); all zero is the any-address. */
function isIPv4Any(host: string): boolean {
  const parts = host.split('.');
  return parts.length >= 1 && parts.length <= 4 && parts.every((part) => /^(0x0*|0+)$/i.test(part));
}

/** All zero, or the IPv4-mapped all zero (::ffff:0.0.0.0, in either spelling). */
function isIPv6Any(host: string): boolean {
  const groups = ipv6Groups(host);
  if (!groups) return false;
  const zero = (g: number) => g === 0;
  return groups.every(zero) || (groups.slice(0, 5).every(zero) && groups[5] === 0xffff && groups.slice(6).every(zero));
}

/** The eight 16-bit groups of an IPv6 address (with :: and a trailing dotted IPv4 part), or undefined. */
function ipv6Groups(host: string): number[] | undefined {
  let text = host;
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const bytes = dotted.slice(2).map(Number);
    if (bytes.some((b) => b > 255)) return undefined;
    text = `${dotted[1]}${((bytes[0] << 8) | bytes[1]).toString(16)}:${((bytes[2] << 8) | bytes[3]).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (half: string) => (half === '' ? [] : half.split(':'));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
}

export function parseBind(bind: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(bind.trim());
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
  return { host, port };
}

/** Validates a definition from an untrusted source (tasks.json, CLI) and fills the defaults. Throws DefinitionError. */
export function resolveDefinition(raw: unknown, context: ResolveContext): ResolvedDefinition {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DefinitionError(['The server definition must be an object with at least an "app" property, for example { "app": "main:app" }.']);
  }
  const def = raw as Record<string, unknown>;

  const server = def.server ?? 'gunicorn';
  if (typeof server !== 'string' || !SERVER_KINDS.includes(server as ServerKind)) {
    problems.push(`"server" must be ${orList(SERVER_KINDS)} (got ${show(server)}).`);
  }

  const app = def.app;
  if (typeof app !== 'string' || app.trim() === '') {
    problems.push('"app" is required: the application as module:attribute, for example "main:app".');
  } else if (!APP_PATTERN.test(app.trim())) {
    problems.push(`"app" must look like module:attribute, for example "main:app" or "pkg.web:create_app()" (got ${show(app)}).`);
  }

  let workers = context.defaultWorkers;
  if (def.workers !== undefined) {
    if (typeof def.workers !== 'number' || !Number.isInteger(def.workers) || def.workers < 1 || def.workers > MAX_WORKERS) {
      problems.push(`"workers" must be a whole number from 1 to ${MAX_WORKERS} (got ${show(def.workers)}).`);
    } else {
      workers = def.workers;
    }
  }

  let host = '127.0.0.1';
  let port = 8000;
  const bind = def.bind ?? DEFAULT_BIND;
  const parsed = typeof bind === 'string' ? parseBind(bind) : undefined;
  if (!parsed) {
    problems.push(`"bind" must be host:port with a port from 1 to 65535, for example "127.0.0.1:8000" (got ${show(bind)}).`);
  } else {
    ({ host, port } = parsed);
  }

  const workerClass = optionalString(def, 'workerClass', problems);
  if (workerClass !== undefined && !/^[A-Za-z_][\w.]*$/.test(workerClass)) {
    problems.push(`"workerClass" must be a class path such as "uvicorn_worker.UvicornWorker" or a Gunicorn name such as "sync" (got ${show(workerClass)}).`);
  }
  if (workerClass !== undefined && server !== 'gunicorn' && SERVER_KINDS.includes(server as ServerKind)) {
    problems.push(`"workerClass" applies to gunicorn only; remove it or set "server": "gunicorn"${server === 'granian' ? ' (granian takes "interface": "asgi", "rsgi" or "wsgi")' : ''}.`);
  }
  const appInterface = def.interface;
  if (appInterface !== undefined) {
    if (typeof appInterface !== 'string' || !GRANIAN_INTERFACES.includes(appInterface as GranianInterface)) {
      problems.push(`"interface" must be ${orList(GRANIAN_INTERFACES)}: how granian calls the app (got ${show(appInterface)}). Use "wsgi" for Flask or Django, "asgi" for FastAPI or Starlette.`);
    } else if (server !== 'granian') {
      problems.push('"interface" applies to granian only; remove it or set "server": "granian".');
    }
  }
  const python = optionalString(def, 'python', problems) ?? context.defaultPython;
  const cwd = optionalString(def, 'cwd', problems) ?? context.defaultCwd;
  const name = optionalString(def, 'name', problems) ?? (typeof app === 'string' ? app : 'server');

  const env: Record<string, string> = {};
  if (def.env !== undefined) {
    if (typeof def.env !== 'object' || def.env === null || Array.isArray(def.env)) {
      problems.push(`"env" must be an object of string values (got ${show(def.env)}).`);
    } else {
      for (const [key, value] of Object.entries(def.env)) {
        if (typeof value !== 'string') problems.push(`"env.${key}" must be a string (got ${show(value)}); quote numbers, e.g. "1".`);
        else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) problems.push(`"env" has an invalid variable name ${show(key)}.`);
        else Object.defineProperty(env, key, { value, enumerable: true, writable: true, configurable: true }); // "__proto__" too
      }
    }
  }

  let args: string[] = [];
  if (def.args !== undefined) {
    if (!Array.isArray(def.args) || def.args.some((a) => typeof a !== 'string')) {
      problems.push(`"args" must be an array of strings, one argument each, e.g. ["--log-level", "debug"] (got ${show(def.args)}).`);
    } else {
      args = def.args as string[];
    }
  }

  const timeout = optionalSeconds(def, 'timeout', problems);
  const gracefulTimeout = optionalSeconds(def, 'gracefulTimeout', problems) ?? DEFAULT_GRACEFUL_TIMEOUT;

  const certfile = optionalString(def, 'certfile', problems);
  const keyfile = optionalString(def, 'keyfile', problems);
  if ((certfile === undefined) !== (keyfile === undefined) && !problems.some((p) => p.includes('"certfile"') || p.includes('"keyfile"'))) {
    problems.push('HTTPS needs both "certfile" and "keyfile" (one is missing).');
  }

  let preLaunch: string[][] = [];
  if (def.preLaunch !== undefined) {
    const steps = def.preLaunch;
    if (!Array.isArray(steps) || steps.some((step) => !Array.isArray(step) || step.length === 0 || step.some((a) => typeof a !== 'string' || a === ''))) {
      problems.push(`"preLaunch" must be a list of commands, each an array of arguments, e.g. [["python", "manage.py", "migrate"]] (got ${show(def.preLaunch)}).`);
    } else {
      preLaunch = steps as string[][];
    }
  }

  let maxMemoryMb: number | undefined;
  if (def.maxMemoryMb !== undefined) {
    if (typeof def.maxMemoryMb !== 'number' || !Number.isInteger(def.maxMemoryMb) || def.maxMemoryMb < 16 || def.maxMemoryMb > 1048576) {
      problems.push(`"maxMemoryMb" must be a whole number of MiB from 16 to 1048576 (got ${show(def.maxMemoryMb)}).`);
    } else {
      maxMemoryMb = def.maxMemoryMb;
    }
    if (server === 'hypercorn') {
      problems.push('"maxMemoryMb" is not available with hypercorn: hypercorn stops the whole server when one of its workers is stopped, so a worker cannot be recycled alone. Remove "maxMemoryMb", or use gunicorn, uvicorn or granian.');
    }
  }

  const restart = def.restart ?? 'on-failure';
  if (restart !== 'never' && restart !== 'on-failure') problems.push(`"restart" must be "never" or "on-failure" (got ${show(def.restart)}).`);
  let restartMax = DEFAULT_RESTART_MAX;
  if (def.restartMax !== undefined) {
    if (typeof def.restartMax !== 'number' || !Number.isInteger(def.restartMax) || def.restartMax < 0 || def.restartMax > 100) {
      problems.push(`"restartMax" must be a whole number from 0 to 100 (got ${show(def.restartMax)}).`);
    } else {
      restartMax = def.restartMax;
    }
  }

  if (def.insight !== undefined && typeof def.insight !== 'boolean') problems.push(`"insight" must be true or false (got ${show(def.insight)}).`);
  const reload = resolveReloadProperty(def.reload, problems);
  const reloadTimeout = optionalSeconds(def, 'reloadTimeout', problems);
  if (reloadTimeout === 0) problems.push('"reloadTimeout" must be at least 1 second: how long a reload\'s new code may take to import and boot before the save is refused.');

  if (problems.length === 0) checkProcessLimits({ app, python, cwd, workerClass, certfile, keyfile, env, args, preLaunch }, problems);
  if (problems.length > 0) throw new DefinitionError(problems);
  return {
    name,
    server: server as ServerKind,
    app: (app as string).trim(),
    workers,
    host,
    port,
    workerClass,
    interface: server === 'granian' ? (appInterface as GranianInterface | undefined) ?? 'asgi' : undefined,
    python,
    cwd,
    env,
    args,
    timeout,
    gracefulTimeout,
    certfile,
    keyfile,
    preLaunch,
    maxMemoryMb,
    restart: restart as RestartPolicy,
    restartMax,
    insight: def.insight !== false,
    workersDefaulted: def.workers === undefined,
    reload,
    reloadTimeout,
  };
}

/** Linux: one argument or environment entry holds at most 128 KiB with its NUL (MAX_ARG_STRLEN). */
export const MAX_VALUE_BYTES = 128 * 1024 - 1;
/** A path holds at most PATH_MAX (4096) bytes with its NUL. */
export const MAX_PATH_BYTES = 4095;
/** All the definition adds to a process's arguments and environment: well inside ARG_MAX (2 MiB by default). */
export const MAX_TOTAL_BYTES = 1024 * 1024;

/** What `spawn` and the kernel refuse, said in the definition's terms instead of Node's: NUL bytes and sizes. */
function checkProcessLimits(values: {
  app: unknown; python: string; cwd: string; workerClass?: string; certfile?: string; keyfile?: string;
  env: Record<string, string>; args: string[]; preLaunch: string[][];
}, problems: string[]): void {
  const entries: Array<[string, string, number]> = [
    ['app', typeof values.app === 'string' ? values.app : '', MAX_VALUE_BYTES],
    ['python', values.python, MAX_PATH_BYTES],
    ['cwd', values.cwd, MAX_PATH_BYTES],
    ['workerClass', values.workerClass ?? '', MAX_VALUE_BYTES],
    ['certfile', values.certfile ?? '', MAX_PATH_BYTES],
    ['keyfile', values.keyfile ?? '', MAX_PATH_BYTES],
    ...Object.entries(values.env).map(([key, value]): [string, string, number] => [`env.${key}`, `${key}=${value}`, MAX_VALUE_BYTES]),
    ...values.args.map((arg, i): [string, string, number] => [`args[${i}]`, arg, MAX_VALUE_BYTES]),
    ...values.preLaunch.flatMap((step, i) => step.map((arg, j): [string, string, number] => [`preLaunch[${i}][${j}]`, arg, MAX_VALUE_BYTES])),
  ];
  let total = 0;
  const sizes: Array<[string, number]> = [];
  for (const [key, value, limit] of entries) {
    const bytes = Buffer.byteLength(value);
    total += bytes + 1;
    sizes.push([key, bytes]);
    if (value.includes('\0')) problems.push(`"${key}" contains a NUL byte (\\u0000), which no program argument, path or environment variable can hold. Remove it.`);
    else if (bytes > limit) problems.push(`"${key}" is ${bytes} bytes long; a ${limit === MAX_PATH_BYTES ? 'path' : 'single argument or environment variable'} can be at most ${limit} bytes. Shorten it${limit === MAX_PATH_BYTES ? '' : ', or pass a large value in a file'}.`);
  }
  if (problems.length === 0 && total > MAX_TOTAL_BYTES) {
    const largest = sizes.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([key, bytes]) => `"${key}" ${bytes}`).join(', ');
    problems.push(`The definition's arguments and environment add up to ${total} bytes, more than the ${MAX_TOTAL_BYTES} bytes Server Workers allows a server's command line and environment (largest: ${largest} bytes). Pass large values in a file.`);
  }
}

function optionalString(def: Record<string, unknown>, key: string, problems: string[]): string | undefined {
  const value = def[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`"${key}" must be a non-empty string (got ${show(value)}).`);
    return undefined;
  }
  return value;
}

function optionalSeconds(def: Record<string, unknown>, key: string, problems: string[]): number | undefined {
  const value = def[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 86400) {
    problems.push(`"${key}" must be a whole number of seconds from 0 to 86400 (got ${show(value)}).`);
    return undefined;
  }
  return value;
}

/** "a", "b" or "c" */
function orList(values: readonly string[]): string {
  const quoted = values.map((v) => `"${v}"`);
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

export function serverUrl(def: Pick<ResolvedDefinition, 'host' | 'port'> & { certfile?: string }): string {
  const scheme = def.certfile ? 'https' : 'http';
  const host = bindsAllInterfaces(def.host) ? '127.0.0.1' : def.host.includes(':') ? `[${def.host}]` : def.host;
  return `${scheme}://${host}:${def.port}`;
}
