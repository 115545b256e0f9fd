/**
 * Gunicorn's control socket (25.1+; the adapter gives each server its own path in the run's private folder): a 4-byte
 * big-endian length, then a JSON object, each way. `worker add N` and `worker remove N` change the worker count by N
 * at once (signals of one kind sent together merge: 3 SIGTTIN can add 1 worker); `remove` never goes below 1 and
 * stops the oldest workers first.
 *
 * Gunicorn closes and re-creates the socket around every fork of a worker (cancelling the connections it is reading),
 * so a connection refused, a path not there, or a connection closed before the answer is tried again for a while (a
 * handler is cancelled only while it waits to read: the command did not run). The request is sent with the
 * connection's writing side closed behind it, so that Gunicorn's handler ends at once instead of waiting for a next
 * command across such a fork.
 */
import * as net from 'node:net';
import { ServerError } from '../errors';

const TIMEOUT_MS = 10000;
const CONNECT_RETRY_MS = 50;
const CONNECT_GIVE_UP_MS = 5000;
let nextRequestId = 1;

interface ControlReply {
  status: string;
  data?: Record<string, unknown>;
  error?: string;
}

/** How many times a command cut off by one of Gunicorn's forks is tried. */
const COMMAND_ATTEMPTS = 3;

class ClosedEarly extends Error {
  constructor() {
    super('the connection closed before the answer');
  }
}

/** Sends one command on a connection of its own; the reply's data, or a ServerError. */
export async function gunicornCommand(socketPath: string, command: string): Promise<Record<string, unknown>> {
  const giveUpAt = Date.now() + CONNECT_GIVE_UP_MS;
  for (;;) {
    try {
      return await sendOnce(socketPath, command);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const retry = (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EPIPE' || error instanceof ClosedEarly) && Date.now() < giveUpAt;
      if (!retry) throw new ServerError(`Gunicorn's control socket did not take "${command}": ${(error as Error).message}`, 'state');
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  }
}

function sendOnce(socketPath: string, command: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: socketPath, allowHalfOpen: true });
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(TIMEOUT_MS, () => fail(new Error('no answer within 10 s')));
    socket.on('error', fail);
    socket.on('end', () => fail(new ClosedEarly()));
    socket.on('connect', () => {
      const payload = Buffer.from(JSON.stringify({ id: nextRequestId++, command }));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(payload.length);
      socket.end(Buffer.concat([length, payload]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readUInt32BE(0)) return;
      socket.destroy();
      let reply: ControlReply;
      try {
        reply = JSON.parse(received.subarray(4, 4 + received.readUInt32BE(0)).toString('utf8')) as ControlReply;
      } catch {
        reject(new Error('the answer is not JSON'));
        return;
      }
      if (reply.status === 'ok') resolve(reply.data ?? {});
      else reject(new Error(reply.error ?? JSON.stringify(reply)));
    });
  });
}

/** Gunicorn's worker count (`show stats`: workers_target); undefined when it does not say. Asked again when a fork cut it off. */
export async function gunicornWorkerTarget(socketPath: string): Promise<number | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const stats = await gunicornCommand(socketPath, 'show stats');
      return typeof stats.workers_target === 'number' ? stats.workers_target : undefined;
    } catch (error) {
      if (attempt === COMMAND_ATTEMPTS) throw error;
    }
  }
}

/**
 * `worker add N` / `worker remove N`, made sure of. Gunicorn stops its control socket around every fork (a worker it
 * spawns, the ones this command makes it spawn), so the connection can be reset before the reply, after the command
 * took effect or before: the count Gunicorn reports then says whether to send it again. `before`: its count now.
 */
export async function changeGunicornWorkers(socketPath: string, verb: 'add' | 'remove', count: number, before: number): Promise<void> {
  const after = verb === 'add' ? before + count : Math.max(1, before - count);
  for (let attempt = 1; ; attempt++) {
    try {
      await gunicornCommand(socketPath, `worker ${verb} ${count}`);
      return;
    } catch (error) {
      if (attempt === COMMAND_ATTEMPTS) throw error;
      const now = await gunicornWorkerTarget(socketPath).catch(() => undefined);
      if (now === after) return;
      if (now !== before) throw error; // something else changed the count meanwhile: sending it again could be wrong
    }
  }
}
