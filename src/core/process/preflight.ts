/**
 * Everything checked before a server's first process starts: the platform, its folder, its certificate files, its
 * port, and what its interpreter has. Each problem is a ServerError that says what is wrong and what to do; nothing
 * has started.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Capabilities, ServerAdapter } from '../adapters';
import type { ResolvedDefinition } from '../definition';
import { ServerError } from '../errors';
import { detectEnvironment, PythonNotFoundError, type PythonEnvironment } from '../pythonEnvironment';
import { findPortHolder } from './procfs';
import { unsupportedPlatformMessage } from './supportedPlatform';

export interface Preflight {
  env: PythonEnvironment;
  capabilities: Capabilities;
}

/** `platform`: process.platform, unless a test names another. */
export async function preflight(def: ResolvedDefinition, adapter: ServerAdapter, platform = process.platform): Promise<Preflight> {
  const unsupported = unsupportedPlatformMessage(platform);
  if (unsupported) throw new ServerError(unsupported, 'platform');
  checkFolder(def);
  checkCertificates(def);
  await checkPort(def);
  let env = await environmentOf(def.python);
  let problem = adapter.checkEnvironment(def, env);
  if (problem) {
    // The check is cached per interpreter: what it found missing may have been installed since (the Install action).
    env = await environmentOf(def.python, true);
    problem = adapter.checkEnvironment(def, env);
  }
  if (problem) throw new ServerError(problem.message, 'environment', { python: env.python, missingPackage: problem.missingPackage });
  return { env, capabilities: adapter.capabilities(env, def) };
}

async function environmentOf(python: string, refresh = false): Promise<PythonEnvironment> {
  try {
    return await detectEnvironment(python, { refresh });
  } catch (error) {
    if (error instanceof PythonNotFoundError) throw new ServerError(error.message, 'interpreter', { python });
    throw error;
  }
}

function checkFolder(def: ResolvedDefinition): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(def.cwd);
  } catch {
    stat = undefined;
  }
  if (!stat?.isDirectory()) {
    throw new ServerError(`The working directory "${def.cwd}" does not exist or is not a folder. Set "cwd" in the task to the folder of your app.`, 'cwd');
  }
}

function checkCertificates(def: ResolvedDefinition): void {
  for (const [key, file] of [['certfile', def.certfile], ['keyfile', def.keyfile]] as const) {
    if (file === undefined) continue;
    const full = path.resolve(def.cwd, file);
    try {
      fs.accessSync(full, fs.constants.R_OK);
      if (!fs.statSync(full).isFile()) throw new Error('not a file');
    } catch {
      throw new ServerError(`The ${key === 'certfile' ? 'certificate' : 'private key'} file "${full}" ("${key}") does not exist or cannot be read. Fix the path in the task, or remove "certfile" and "keyfile" to serve plain HTTP.`, 'certificate');
    }
  }
}

async function checkPort(def: ResolvedDefinition): Promise<void> {
  const port = await probePort(def.host, def.port);
  if (port === 'in-use') {
    const holder = findPortHolder(def.port);
    const who = holder ? ` by process ${holder.pid} (${holder.command.slice(0, 120)})` : '';
    throw new ServerError(`Port ${def.port} on ${def.host} is already in use${who}. Stop that process or set another "bind" in the task.`, 'port', { portHolder: holder });
  }
  if (port === 'denied') {
    throw new ServerError(`Port ${def.port} on ${def.host} needs privileges this user does not have: ports below 1024 can be bound only by root or with the CAP_NET_BIND_SERVICE capability. Use a port from 1024 up in "bind", for example ${def.host.includes(':') ? `[${def.host}]` : def.host}:8000.`, 'port');
  }
  if (port === 'no-such-address') {
    throw new ServerError(`"${def.host}" is not an address of this machine, so nothing can listen on it. Set "bind" to 127.0.0.1:${def.port} (this machine only) or to one of its own addresses.`, 'port');
  }
}

/** Whether a server could listen on host:port: free, in use (EADDRINUSE), denied (EACCES: a privileged port), or not an address here. */
function probePort(host: string, port: number): Promise<'free' | 'in-use' | 'denied' | 'no-such-address'> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EACCES' ? 'denied' : error.code === 'EADDRNOTAVAIL' ? 'no-such-address' : error.code === 'EADDRINUSE' ? 'in-use' : 'free');
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve('free')));
  });
}
