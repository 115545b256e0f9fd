/**
 * What the task becomes inside a container, shared by the Dockerfile, Compose and Kubernetes: the command (one
 * server process, or the task's N workers), its port, its env as the image sees it, its paths inside the image, the
 * health check, and what does not fit in an image.
 */
import * as path from 'node:path';
import { bindsAllInterfaces } from '../core/definition';
import { envCaveats, type EnvEntry, envEntries, IMAGE_ROOT, imagePath, outsidePaths } from './analysis';
import { containerCommand, serverMemoryMb, type ServerCommand } from './serverCommand';
import type { Caveat, ExportInput } from './types';

/** Where a container finds the task's certificate and key: mounted when it runs, never copied into the image. */
export const TLS_IN_CONTAINER = { certfile: '/run/secrets/tls-cert.pem', keyfile: '/run/secrets/tls-key.pem' };
/** The image's user: numeric, so that Kubernetes' runAsNonRoot can check it. */
export const IMAGE_UID = 10001;

export interface ImagePlan {
  command: ServerCommand;
  /** `python` and the command's arguments: what the image runs. */
  argv: string[];
  port: number;
  /** The container serves HTTPS (the task has a certificate, mounted at TLS_IN_CONTAINER). */
  https: boolean;
  /** The task's env: plain values as the image sees them (paths in the project moved to /app). */
  env: EnvEntry[];
  /** The working directory inside the image. */
  workdir: string;
  /** A memory limit for one container, in MiB, from maxMemoryMb. */
  memoryMb?: number;
  /** The health check's command: it requests the health path on the app's port. */
  healthCheck: string[];
  caveats: Caveat[];
}

/**
 * The container's plan. `tls`: whether the container serves the certificate itself (the Dockerfile, Compose); on
 * Kubernetes an Ingress terminates TLS and the pod serves HTTP.
 */
export function imagePlan(input: ExportInput, supplySecret: (key: string) => string, tls: boolean): ImagePlan {
  const def = input.definition;
  const folder = input.project.folder;
  const https = tls && def.certfile !== undefined && def.keyfile !== undefined;
  const command = containerCommand(input, { host: '0.0.0.0', port: def.port, tls: https ? TLS_IN_CONTAINER : undefined });
  const inImage = (value: string) => (path.isAbsolute(value) ? imagePath(value, folder) ?? value : value);
  const taskArgs = new Set(def.args);
  const argv = ['python', ...command.argv.map((arg) => (taskArgs.has(arg) ? inImage(arg) : arg))];
  const env = envEntries(input).map((entry) => (entry.kind === 'plain' ? { ...entry, value: inImage(entry.value) } : entry));
  const caveats: Caveat[] = [
    ...command.caveats,
    ...envCaveats(envEntries(input), supplySecret),
    ...outsidePaths(input, ['args', 'env']).map(({ property, file }) => ({
      property, message: `${file} is outside the project, so it is not in the image: mount it when the container runs, or move it into the project.`,
    })),
  ];
  const processes = command.kind === 'uvicorn' && command.workers === 1 ? undefined : command.workers;
  const memoryMb = def.maxMemoryMb === undefined ? undefined : processes === undefined ? def.maxMemoryMb : serverMemoryMb(def.maxMemoryMb, processes);
  return {
    command,
    argv,
    port: def.port,
    https,
    env,
    workdir: imagePath(def.cwd, folder) ?? IMAGE_ROOT,
    memoryMb,
    healthCheck: healthCheckCommand(https, def.port, input.options.healthPath),
    caveats,
  };
}

/** A health check with the image's Python (slim images have no curl): fails on no answer or an HTTP error status. */
function healthCheckCommand(https: boolean, port: number, healthPath: string): string[] {
  const url = `${https ? 'https' : 'http'}://127.0.0.1:${port}${healthPath}`;
  const code = https
    ? `import ssl, urllib.request; urllib.request.urlopen(${JSON.stringify(url)}, timeout=4, context=ssl._create_unverified_context())`
    : `import urllib.request; urllib.request.urlopen(${JSON.stringify(url)}, timeout=4)`;
  return ['python', '-c', code];
}

/** A Python package's name as pip and requirement files spell it, in any of its spellings (- _ .), as a pattern. */
function mentions(text: string, pkg: string): boolean {
  const name = pkg.replace(/[-_.]/g, '[-_.]');
  return new RegExp(`(^|[\\s"'\\[,])${name}\\s*([=<>~!;\\[\\]"',@]|$)`, 'im').test(text);
}

/** The server packages the image's command needs: a Uvicorn worker class needs its package too. */
export function serverPackages(plan: ImagePlan): string[] {
  if (plan.command.kind !== 'gunicorn') return [plan.command.kind];
  const workerClass = plan.argv[plan.argv.indexOf('--worker-class') + 1] ?? '';
  if (workerClass.startsWith('uvicorn_worker.')) return ['gunicorn', 'uvicorn-worker'];
  if (workerClass.startsWith('uvicorn.')) return ['gunicorn', 'uvicorn'];
  return ['gunicorn'];
}

/**
 * The packages the image must install beside the project's dependency file because the file does not name them,
 * pinned to the task environment's versions, and what is said about it.
 */
export function missingServerPackages(input: ExportInput, plan: ImagePlan): { pins: string[]; caveats: Caveat[] } {
  const deps = input.project.dependencies;
  const text = deps.kind === 'none' ? '' : deps.text;
  const where = (pkg: string) => (deps.kind === 'none' ? 'the project has no dependency file' : `${deps.file} does not name ${pkg}`);
  const pins: string[] = [];
  const caveats: Caveat[] = [];
  for (const pkg of serverPackages(plan)) {
    if (mentions(text, pkg)) continue;
    const version = input.project.packages[pkg as keyof ExportInput['project']['packages']];
    if (version) {
      pins.push(`${pkg}==${version}`);
      caveats.push({ property: 'server', message: `${where(pkg)}: the image installs ${pkg}==${version}, the version in the task's environment. Add it to the project's dependencies.` });
    } else {
      caveats.push({ property: 'server', message: `${where(pkg)}, and the task's environment has no ${pkg} either: add ${pkg} to the project's dependencies.` });
    }
  }
  return { pins, caveats };
}

/**
 * Where a container's port is published: on the task's host (so a task bound to 127.0.0.1 stays on loopback; every
 * interface only when the task binds it), a range of ports for several replicas.
 */
export function publishedPort(host: string, port: number, containerPort: number, replicas = 1): string {
  const hostPart = bindsAllInterfaces(host) ? '' : `${host.includes(':') ? `[${host}]` : host}:`;
  const ports = replicas > 1 && port + replicas - 1 <= 65535 ? `${port}-${port + replicas - 1}` : String(port);
  return `${hostPart}${ports}:${containerPort}`;
}
