/** Reading the workers' output sockets with few wake-ups: a server under load writes a line per request, each its own write. */
import type * as net from 'node:net';

/** After a small read, the socket rests until the next beat, at most this long: the lines written meanwhile come in one read. */
export const READ_REST_MS = 10;
/**
 * A read at least this big means the worker writes faster than a rest lets through (a flood): no rest. Below it on
 * purpose: a socket's buffer holds only a few hundred small writes, and a worker that fills it waits for the reader.
 */
export const REST_BELOW_BYTES = 4096;
/** After a big read, no rest for this long: in a flood, a small read is a moment's gap, not a quiet worker. */
export const FLOOD_HOLD_MS = 100;

/**
 * The beat that ends the rests of a group of sockets (a server's workers): one timer resumes every resting socket at
 * once, so the reads of several workers share one wake-up of the process instead of one each.
 */
export class ReadPacer {
  private readonly resting = new Set<net.Socket>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly restMs = READ_REST_MS) {}

  rest(socket: net.Socket): void {
    socket.pause();
    this.resting.add(socket);
    this.timer ??= setTimeout(() => this.beat(), this.restMs);
  }

  forget(socket: net.Socket): void {
    this.resting.delete(socket);
    if (this.resting.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private beat(): void {
    this.timer = undefined;
    const sockets = [...this.resting];
    this.resting.clear();
    for (const socket of sockets) socket.resume();
  }
}

/**
 * Calls `onData` with each chunk, like `socket.on('data')`, but rests the socket after a small chunk until the
 * pacer's next beat, so that a line per request costs a fraction of a read instead of a read (and a wake-up) each. A
 * line waits at most READ_REST_MS longer; a flood is read without rests. The socket must have a readable
 * highWaterMark of 1 (AgentServer's sockets do): paused, it then stops reading from the kernel at once instead of
 * reading on into its buffer.
 */
export function onCoalescedData(socket: net.Socket, onData: (chunk: Buffer) => void, pacer = new ReadPacer()): void {
  /**
   * From a rest's end to the end of that turn of the event loop, what arrived during the rest comes in (a chunk the
   * stream read ahead before the pause took hold, then what waited in the kernel): held and delivered as one chunk
   * at the turn's end, and then the socket rests again. A busy worker is read once per beat; an idle one flows
   * until its next line.
   */
  let catchingUp = false;
  let held: Buffer[] = [];
  let noRestUntil = 0;
  const deliverHeld = () => {
    if (held.length === 0) return;
    const chunk = held.length === 1 ? held[0] : Buffer.concat(held);
    held = [];
    onData(chunk);
  };
  const mayRest = () => !socket.isPaused() && !socket.destroyed && Date.now() >= noRestUntil;
  socket.on('resume', () => {
    catchingUp = true;
    setImmediate(() => {
      catchingUp = false;
      const caughtUp = held.length > 0;
      deliverHeld();
      if (caughtUp && mayRest()) pacer.rest(socket);
    });
  });
  socket.on('data', (chunk: Buffer) => {
    if (chunk.length >= REST_BELOW_BYTES) {
      deliverHeld();
      onData(chunk);
      noRestUntil = Date.now() + FLOOD_HOLD_MS;
      return;
    }
    if (catchingUp) {
      held.push(chunk);
      return;
    }
    onData(chunk);
    if (mayRest()) pacer.rest(socket);
  });
  socket.once('close', () => {
    deliverHeld();
    pacer.forget(socket);
  });
}
