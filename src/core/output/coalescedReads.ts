/** Reading the workers' output sockets with few wake-ups: a server under load writes a line per request, each its own write. */
import * as fs from 'node:fs';
import type * as net from 'node:net';

/**
 * After a small read, the socket rests until the next beat, at most this long: the lines written meanwhile come in one
 * read. The output channels append at most this often too, and at once after a beat (outputChannels.ts): a line waits
 * for the beat only, not for the beat and then for the channel (npm run bench: log latency p99 25 ms with 25 ms, 33
 * ms with a 10 ms beat and the channel's own 25 ms; and fewer wake-ups).
 */
export const READ_REST_MS = 25;
/**
 * A read at least this big means the worker writes faster than a rest lets through (a flood): no rest. Below it on
 * purpose: a socket's buffer holds only a few hundred small writes, and a worker that fills it waits for the reader.
 */
export const REST_BELOW_BYTES = 4096;
/** After a big read, no rest for this long: in a flood, a small read is a moment's gap, not a quiet worker. */
export const FLOOD_HOLD_MS = 100;

/**
 * The beat that ends the rests of a group of sockets (a server's workers): one timer wakes every resting socket at
 * once, so the reads of several workers share one wake-up of the process instead of one each.
 */
export class ReadPacer {
  private readonly resting = new Set<SocketReads>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly restMs = READ_REST_MS) {}

  rest(reads: SocketReads): void {
    reads.stop();
    this.resting.add(reads);
    this.timer ??= setTimeout(() => this.beat(), this.restMs);
  }

  forget(reads: SocketReads): void {
    this.resting.delete(reads);
    if (this.resting.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private beat(): void {
    this.timer = undefined;
    const resting = [...this.resting];
    this.resting.clear();
    for (const reads of resting) if (reads.wake()) this.rest(reads);
  }
}

/** The part of a net.Socket's handle that reads from the kernel (Node's own `Socket.prototype.pause` uses it). */
interface ReadingHandle {
  reading: boolean;
  readStop(): number;
  /** The socket's file descriptor (Unix). */
  fd?: number;
}

/** Where a beat's read lands before it is copied out at its size (a beat reads a few KiB: one buffer, reused). */
const beatBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * Stops and restarts a socket's reads from the kernel. A paused socket goes on reading: the stream asks for more
 * until its buffer is full, so the first line after every rest costs a read, and one more wake-up of the process to
 * take the socket out of the event loop's poll. Stopped here, what comes next waits in the kernel until start().
 * Where the handle is not Node's (another runtime), stop() only pauses: correct, at the cost of that read.
 */
export class SocketReads {
  private stopped = false;
  private readonly netRead: (size: number) => void;

  constructor(readonly socket: net.Socket) {
    const netRead = socket._read.bind(socket);
    this.netRead = netRead;
    // While stopped, the stream's requests for more are not passed on: they would start the handle again.
    socket._read = (size: number) => {
      if (!this.stopped) netRead(size);
    };
  }

  stop(): void {
    this.socket.pause();
    const handle = (this.socket as unknown as { _handle?: Partial<ReadingHandle> | null })._handle;
    if (this.socket.destroyed || !handle || handle.reading !== true || typeof handle.readStop !== 'function') return;
    handle.reading = false;
    this.stopped = true;
    if (handle.readStop() !== 0) this.socket.destroy(new Error('Could not stop reading a worker\'s output.'));
  }

  start(): void {
    this.socket.resume();
    if (!this.stopped) return;
    this.stopped = false;
    // The stream asked for more while stopped and waits for it: it will not ask again, so ask for it.
    if (!this.socket.destroyed) this.netRead(0);
  }

  /**
   * The beat: what waited in the kernel during the rest is read at once, in this turn, and handed to `onWaiting`
   * (which rests the socket again, or starts it). A busy socket is read so, once a beat, without being put back into
   * the event loop's poll and taken out again (two system calls and a wake-up of the process each beat). With nothing
   * waiting it rests one beat more (true: a worker that writes less often than the beat would otherwise wake the
   * process between two beats), then reads as usual again; so it does at its end, or where the handle is not Node's.
   */
  wake(): boolean {
    // Only when the stream holds nothing of its own: what it holds comes first.
    const waiting = this.stopped && !this.socket.destroyed && this.socket.readableLength === 0 ? this.readWaiting() : undefined;
    if (waiting === 'nothing' && this.emptyBeats++ === 0) return true;
    this.emptyBeats = 0;
    if (waiting instanceof Buffer && this.onWaiting) this.onWaiting(waiting);
    else this.start();
    return false;
  }

  private emptyBeats = 0;

  /** Given what a beat read (see wake). */
  onWaiting: ((chunk: Buffer) => void) | undefined;

  /** What waits in the kernel; 'nothing'; undefined for its end, an error (the stream reads them) or no descriptor. */
  private readWaiting(): Buffer | 'nothing' | undefined {
    const fd = (this.socket as unknown as { _handle?: Partial<ReadingHandle> | null })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return undefined;
    try {
      const length = fs.readSync(fd, beatBuffer, 0, beatBuffer.length, null);
      return length > 0 ? Buffer.from(beatBuffer.subarray(0, length)) : undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EAGAIN' ? 'nothing' : undefined;
    }
  }
}

/**
 * Calls `onData` with each chunk, like `socket.on('data')`, but rests the socket after a small chunk until the
 * pacer's next beat, so that a line per request costs a fraction of a read instead of a read (and a wake-up) each: the
 * lines written during a rest wait in the kernel and come in one read at the beat. A line waits at most READ_REST_MS
 * longer; a flood is read without rests.
 */
export function onCoalescedData(socket: net.Socket, onData: (chunk: Buffer) => void, pacer = new ReadPacer()): void {
  const reads = new SocketReads(socket);
  let noRestUntil = 0;
  socket.on('data', (chunk: Buffer) => {
    onData(chunk);
    if (chunk.length >= REST_BELOW_BYTES) noRestUntil = Date.now() + FLOOD_HOLD_MS;
    else if (!socket.isPaused() && !socket.destroyed && Date.now() >= noRestUntil) pacer.rest(reads);
  });
  // A beat's read of a resting socket: it rests on, unless it was big (a flood starts: read it as it comes).
  reads.onWaiting = (chunk) => {
    onData(chunk);
    if (chunk.length >= REST_BELOW_BYTES) {
      noRestUntil = Date.now() + FLOOD_HOLD_MS;
      reads.start();
    } else {
      pacer.rest(reads);
    }
  };
  socket.once('close', () => pacer.forget(reads));
}
