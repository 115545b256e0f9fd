/** Reading a worker's output socket with few wake-ups: a server under load writes a line per request, each its own write. */
import type * as net from 'node:net';

/** After a small read, the socket rests this long: the lines written meanwhile wait in the kernel and come in one read. */
export const READ_REST_MS = 10;
/**
 * A read at least this big means the worker writes faster than a rest lets through (a flood): no rest. Below it on
 * purpose: a socket's buffer holds only a few hundred small writes, and a worker that fills it waits for the reader.
 */
export const REST_BELOW_BYTES = 4096;
/** After a big read, no rest for this long: in a flood, a small read is a moment's gap, not a quiet worker. */
export const FLOOD_HOLD_MS = 100;

/**
 * Calls `onData` with each chunk, like `socket.on('data')`, but rests the socket after a small chunk, so that a line
 * per request costs a fraction of a read instead of a read (and a wake-up) each. A line waits at most READ_REST_MS
 * longer; a flood is read without rests. The socket must have a readable highWaterMark of 1 (AgentServer's sockets
 * do): paused, it then stops reading from the kernel at once instead of reading on into its buffer.
 */
export function onCoalescedData(socket: net.Socket, onData: (chunk: Buffer) => void, restMs = READ_REST_MS): void {
  let timer: NodeJS.Timeout | undefined;
  /** Between a rest's end and the next turn of the event loop: what arrived during the rest comes in now, no new rest. */
  let catchingUp = false;
  let noRestUntil = 0;
  socket.on('data', (chunk: Buffer) => {
    onData(chunk);
    if (chunk.length >= REST_BELOW_BYTES) {
      noRestUntil = Date.now() + FLOOD_HOLD_MS;
      return;
    }
    if (catchingUp || timer !== undefined || socket.destroyed || Date.now() < noRestUntil) return;
    socket.pause();
    timer = setTimeout(() => {
      timer = undefined;
      catchingUp = true;
      socket.resume();
      setImmediate(() => {
        catchingUp = false;
      });
    }, restMs);
  });
  socket.once('close', () => clearTimeout(timer));
}
