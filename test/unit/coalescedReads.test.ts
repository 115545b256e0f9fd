import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { onCoalescedData, ReadPacer, SocketReads } from '../../src/core/output/coalescedReads';

/** A Unix socket pair as AgentServer makes them (readable highWaterMark 1); `accept` gets the reading end. */
async function socketPair(accept: (reader: net.Socket) => void): Promise<{ client: net.Socket; close: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coalesced-'));
  const socketPath = path.join(dir, 's.sock');
  const server = net.createServer({ highWaterMark: 1 }, accept);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const client = net.connect(socketPath);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return {
    client,
    /** Resolves once the reading end has closed too. */
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with what the reading end of a socket pair received through onCoalescedData. */
async function transfer(write: (client: net.Socket) => Promise<void>): Promise<{ text: string; chunks: number }> {
  let received: Promise<{ text: string; chunks: number }> | undefined;
  const { client, close } = await socketPair((socket) => {
    received = new Promise((resolve) => {
      const parts: Buffer[] = [];
      onCoalescedData(socket, (chunk) => parts.push(chunk));
      socket.on('close', () => resolve({ text: Buffer.concat(parts).toString(), chunks: parts.length }));
    });
  });
  await write(client);
  client.end();
  while (!received) await new Promise((r) => setTimeout(r, 5));
  const result = await received;
  await close();
  return result;
}

describe('onCoalescedData', () => {
  it('delivers every byte in order, and the end, when lines come one at a time', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\n`);
    const { text, chunks } = await transfer(async (client) => {
      for (const line of lines) {
        client.write(line);
        await new Promise((r) => setImmediate(r));
      }
    });
    assert.strictEqual(text, lines.join(''));
    assert.ok(chunks <= lines.length);
  });

  it('delivers a flood whole', async () => {
    const block = Buffer.alloc(1 << 20, 'x');
    const { text } = await transfer(async (client) => {
      for (let i = 0; i < 4; i++) client.write(block);
      if (client.writableLength > 0) await new Promise((r) => client.once('drain', r));
    });
    assert.strictEqual(text.length, 4 << 20);
  });

  it('reads a busy socket once per beat, in the beat\'s turn: what arrives between two beats comes in one read', async () => {
    let resumes = 0;
    let chunks = 0;
    const received: string[] = [];
    const { client, close } = await socketPair((socket) => {
      socket.on('resume', () => resumes++);
      onCoalescedData(socket, (chunk) => {
        chunks++;
        received.push(chunk.toString());
      }, new ReadPacer(20));
    });
    const lines: string[] = [];
    const started = Date.now();
    while (Date.now() < started + 400) {
      const line = `line ${lines.length}\n`;
      lines.push(line);
      client.write(line);
      await new Promise((r) => setTimeout(r, 1));
    }
    const beats = Math.ceil((Date.now() - started) / 20);
    client.end();
    await close();
    assert.strictEqual(received.join(''), lines.join(''), 'every line, in order');
    assert.ok(chunks >= 5, `the beats came (${chunks} reads)`);
    assert.ok(chunks <= beats + 3, `${chunks} reads in ${beats} beats: one read per beat, not one more for the first line after it`);
    // A busy socket is read at the beat directly: it is not put back into the event loop's poll (resumed) each time.
    assert.ok(resumes <= 3, `${resumes} resumes for ${chunks} reads`);
  });

  it('rests the sockets of one pacer together: one timer, one beat wakes them all', async () => {
    const pacer = new ReadPacer(30);
    const sockets = [new net.Socket(), new net.Socket(), new net.Socket()];
    const reads = sockets.map((socket) => new SocketReads(socket));
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    for (const r of reads) pacer.rest(r);
    assert.ok(sockets.every((s) => s.isPaused()), 'each rests');
    assert.strictEqual(timers(), before + 1, 'one timer for all of them');
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(sockets.every((s) => !s.isPaused()), 'the beat woke every one');
    pacer.rest(reads[0]);
    pacer.forget(reads[0]);
    assert.ok(timers() <= before, 'no timer is left once no socket rests');
    for (const socket of sockets) socket.destroy();
  });

  it('a resting socket reads nothing from the kernel until the beat, and then all that waited in one read', async () => {
    const pacer = new ReadPacer(1500);
    let reader: net.Socket | undefined;
    const chunks: string[] = [];
    const { client, close } = await socketPair((socket) => {
      reader = socket;
      onCoalescedData(socket, (chunk) => chunks.push(chunk.toString()), pacer);
    });
    try {
      const settle = () => new Promise((r) => setTimeout(r, 50));
      client.write('first\n');
      await settle();
      assert.deepStrictEqual(chunks, ['first\n'], 'a quiet socket is read at once');
      const readBeforeRest = reader!.bytesRead;
      for (let i = 0; i < 5; i++) {
        client.write(`during the rest ${i}\n`);
        await settle();
      }
      // A paused stream would have read the first of these into its buffer: a read, and a wake-up, the rest was to save.
      assert.strictEqual(reader!.bytesRead, readBeforeRest, 'nothing read while resting');
      assert.deepStrictEqual(chunks, ['first\n']);
      const beatDue = Date.now() + 4000;
      while (chunks.length === 1 && Date.now() < beatDue) await settle();
      assert.deepStrictEqual(chunks.slice(1), [Array.from({ length: 5 }, (_, i) => `during the rest ${i}\n`).join('')], 'one read at the beat');
    } finally {
      client.destroy();
      reader?.destroy();
      await close();
    }
  });

  it('a socket with nothing waiting at its beat rests one beat more before it is back in the poll', async () => {
    const wakes: boolean[] = [];
    const prototype = SocketReads.prototype as { wake(this: SocketReads): boolean };
    const wake = Object.getOwnPropertyDescriptor(prototype, 'wake')!.value as (this: SocketReads) => boolean;
    prototype.wake = function (this: SocketReads) {
      const restsOn = wake.call(this);
      wakes.push(restsOn);
      return restsOn;
    };
    let reader: net.Socket | undefined;
    let resumes = 0;
    const chunks: string[] = [];
    const { client, close } = await socketPair((socket) => {
      reader = socket;
      onCoalescedData(socket, (chunk) => chunks.push(chunk.toString()), new ReadPacer(30));
      socket.on('resume', () => resumes++);
    });
    const until = async (what: string, check: () => boolean) => {
      for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(check(), what);
    };
    try {
      client.write('one line\n');
      await until('the line to be read', () => chunks.length === 1);
      const resumesAfterRead = resumes;
      await until('a beat', () => wakes.length >= 1);
      assert.deepStrictEqual(wakes.slice(0, 1), [true], 'nothing waited: it rests on');
      assert.strictEqual(resumes, resumesAfterRead, 'not back in the poll');
      await until('a second beat', () => wakes.length >= 2);
      assert.deepStrictEqual(wakes.slice(0, 2), [true, false], 'nothing again: it reads as usual');
      assert.strictEqual(resumes, resumesAfterRead + 1, 'back in the poll');
      client.write('later\n');
      await until('the next line to be read', () => chunks.length === 2);
    } finally {
      prototype.wake = wake;
      client.destroy();
      reader?.destroy();
      await close();
    }
  });
});
