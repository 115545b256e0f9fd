/**
 * The metrics endpoint: an HTTP listener that answers `GET /metrics` with the Prometheus text of the servers it is
 * given (prometheusText.ts), on loopback unless told otherwise. The CLI's `--metrics HOST:PORT` and the extension's
 * `serverWorkers.metricsEndpoint` setting start one.
 */
import * as http from 'node:http';
import { parseBind } from '../definition';
import { ServerError } from '../errors';
import type { ServerModel } from '../model';
import { findPortHolder } from '../process/procfs';
import { CpuSecondsReader } from './cpuSeconds';
import { prometheusText } from './prometheusText';

export interface MetricsAddress {
  host: string;
  port: number;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** "HOST:PORT" ("[::1]:9464" for IPv6), or a port alone on 127.0.0.1; undefined when it is neither. */
export function parseMetricsAddress(text: string): MetricsAddress | undefined {
  const trimmed = text.trim();
  if (/^\d{1,5}$/.test(trimmed)) return parseBind(`127.0.0.1:${trimmed}`);
  return parseBind(trimmed);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** What to tell a person whose metrics endpoint other machines can reach (as a `bind` on all interfaces is told). */
export function exposureWarning({ host, port }: MetricsAddress): string | undefined {
  if (isLoopback(host)) return undefined;
  return `The metrics endpoint listens on ${formatAddress({ host, port })}: other machines on your network can read every worker's figures. Use 127.0.0.1 unless you mean to expose them.`;
}

export function formatAddress({ host, port }: MetricsAddress): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class MetricsEndpoint {
  private constructor(private readonly server: http.Server, readonly address: MetricsAddress, private readonly cpu: CpuSecondsReader) {}

  get url(): string {
    return `http://${formatAddress(this.address)}/metrics`;
  }

  /**
   * Listens on `address`; each scrape reads `servers()` then. Throws a ServerError (reason 'port') that says who holds
   * a port in use, or why the address cannot be listened on; `howToChange` ends its message ("--metrics HOST:PORT").
   */
  static listen(address: MetricsAddress, servers: () => readonly ServerModel[], howToChange: string): Promise<MetricsEndpoint> {
    const cpu = new CpuSecondsReader();
    const server = http.createServer((request, response) => answer(request, response, servers, cpu));
    server.keepAliveTimeout = 30_000;
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        server.close();
        cpu.close();
        reject(listenError(error, address, howToChange));
      });
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        const bound = server.address();
        const port = typeof bound === 'object' && bound ? bound.port : address.port;
        resolve(new MetricsEndpoint(server, { host: address.host, port }, cpu));
      });
    });
  }

  close(): Promise<void> {
    this.cpu.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function answer(request: http.IncomingMessage, response: http.ServerResponse, servers: () => readonly ServerModel[], cpu: CpuSecondsReader): void {
  const path = (request.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: the metrics are at /metrics\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Only GET and HEAD\n');
    return;
  }
  let body: string;
  try {
    const scraped = new Set<number>();
    body = prometheusText(servers(), (pid) => {
      scraped.add(pid);
      return cpu.read(pid);
    });
    cpu.keep(scraped);
  } catch (error) {
    response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`The metrics could not be written: ${error instanceof Error ? error.message : String(error)}\n`);
    return;
  }
  response.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function listenError(error: NodeJS.ErrnoException, address: MetricsAddress, howToChange: string): Error {
  const where = formatAddress(address);
  if (error.code === 'EADDRINUSE') {
    const holder = findPortHolder(address.port);
    const who = holder ? ` by pid ${holder.pid} (${holder.command || 'command unknown'})` : '';
    return new ServerError(`The metrics endpoint cannot listen on ${where}: the port is already in use${who}. Stop that process or choose another port with ${howToChange}.`, 'port', { portHolder: holder });
  }
  if (error.code === 'EACCES') {
    return new ServerError(`The metrics endpoint cannot listen on ${where}: ports below 1024 need privileges this user does not have. Choose a port from 1024 up with ${howToChange}, for example 127.0.0.1:9464.`, 'port');
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new ServerError(`The metrics endpoint cannot listen on ${where}: "${address.host}" is not an address of this machine. Use 127.0.0.1 with ${howToChange}.`, 'port');
  }
  return new ServerError(`The metrics endpoint cannot listen on ${where}: ${error.message}`, 'port');
}
