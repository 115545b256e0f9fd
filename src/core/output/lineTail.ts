/**
 * The newest lines of a stream, bounded by a line count, kept as UTF-8 bytes in chunks that are reused; each line with
 * its facts (its sequence number in the server's history, the pid that wrote it, when it came, whether the supervisor
 * wrote it). This is the one copy of a line: the output channels show it, the agent tools read it
 * (history/lineHistory.ts keeps one tail per stream of a server).
 *
 * Why bytes and not one string per line: a log flood passes a million lines through here. Strings that live until a
 * trim (tens of thousands of lines) are promoted to V8's old generation and die there, and lines that wait for the
 * next append survive the young generation's collections and make it grow: the process's memory grew by 130 MB for a
 * million lines (npm run bench, log flood). Here a line is copied into a chunk and its string dies at once; a trim
 * hands whole chunks back for reuse, so a flood allocates nothing once the tail is full. The facts are typed arrays
 * beside a chunk's bytes (17 bytes a line, no object per line), reused with it.
 */

/** Chunks start small (a quiet channel costs little) and double up to this size; only full-size chunks are reused. */
export const CHUNK_BYTES = 64 * 1024;
const FIRST_CHUNK_BYTES = 4 * 1024;
/** A chunk keeps its lines' sequence numbers and times as offsets from its first line's: a new chunk starts before one would overflow. */
const MAX_OFFSET = 0xffffffff;
/** What `write` is given instead of a seq for text that goes on the open line. */
const CONTINUATION = -1;

export interface LineFacts {
  /** The line's number in its server's history: one sequence across all the server's streams. */
  seq: number;
  pid: number;
  /** When the supervisor had it (ms since the epoch). */
  time: number;
  /** A line the supervisor wrote (a respawn marker, the heading of stacks), not the process. */
  marker: boolean;
}

export interface StoredLine extends LineFacts {
  /** The stream's slot (the tail's). */
  slot: number;
  /** The line without its newline; cut to the reader's limit (`bytes` says its whole length). */
  text: string;
  /** The whole line's length in UTF-8 bytes. */
  bytes: number;
  /** The length of `text` in UTF-8 bytes (less than `bytes` when it was cut). */
  textBytes: number;
}

interface Chunk {
  bytes: Buffer;
  /** Position of bytes[0] in the stream (all bytes ever pushed). */
  start: number;
  used: number;
  /** Lines that start in this chunk (a chunk may begin with the rest of a line that started before it). */
  lines: number;
  /** The number of the first line that starts here (the stream's lines are numbered from 0). */
  firstLine: number;
  firstSeq: number;
  firstTime: number;
  /** Per line: where it starts in `bytes`, its seq and time as offsets from the first line's, its pid, marker or not. */
  offsets: Uint32Array;
  seqs: Uint32Array;
  times: Uint32Array;
  pids: Int32Array;
  markers: Uint8Array;
}

export class LineTail {
  private chunks: Chunk[] = [];
  private readonly spare: Chunk[] = [];
  private keptLines = 0;
  /** Stream position up to which takeUnread() has returned the text. */
  private readMark = 0;
  /** Lines ever pushed. */
  total = 0;
  /** Lines dropped by trims (they are the first `dropped` line numbers). */
  dropped = 0;
  /** The last line has no newline yet: a continuation is written right after it. */
  private open = false;
  private lastTime = 0;
  /** The facts the lines of the push under way share. */
  private pushing = { pid: 0, time: 0, marker: 0 };
  /** The seqs of the latest dropped lines (a ring of `keep`): how many lines a reader's cursor lost, exactly. */
  private droppedSeqs: Float64Array | undefined;

  /**
   * Holds at most `max` of the newest lines: past it, a trim drops the oldest whole chunks down to at least `keep`
   * lines. A reader that shows all kept lines after each trim resends `keep` lines per `max - keep` new ones.
   */
  constructor(readonly keep: number, readonly max: number, readonly slot = 0) {}

  /**
   * `joinFirst`: the first line continues the open last line (it is not a new line); `leaveOpen`: the last line has
   * no newline yet. An open line that the next push does not continue is ended first. `facts`: those of the first
   * line (the next ones take the next seqs); without them, seqs continue this tail's own. A continued line takes a new
   * seq, the newest: a reader that saw its start by seq sees it again, longer. Returns the seqs used.
   */
  push(lines: readonly string[], joinFirst = false, leaveOpen = false, facts?: LineFacts): number {
    const joins = joinFirst && this.open && lines.length > 0;
    if (this.open && !joins) this.write('', true, CONTINUATION);
    this.lastTime = Math.max(this.lastTime, facts?.time ?? Date.now());
    this.pushing = { pid: facts?.pid ?? 0, time: this.lastTime, marker: facts?.marker === true ? 1 : 0 };
    let seq = facts?.seq ?? this.lastSeq + 1;
    const last = lines.length - 1;
    for (let i = 0; i < lines.length; i++) {
      const ends = i < last || !leaveOpen;
      if (joins && i === 0) {
        this.write(lines[i], ends, CONTINUATION);
        this.renumberLast(seq++);
        continue;
      }
      this.write(lines[i], ends, seq++);
      this.total++;
      this.keptLines++;
    }
    this.open = leaveOpen && lines.length > 0;
    if (this.keptLines > this.max) this.trim();
    return lines.length;
  }

  /** The last line has no newline yet. */
  get endsOpen(): boolean {
    return this.open;
  }

  /** The seq of the newest line (0 when there is none). */
  get lastSeq(): number {
    const chunk = this.chunkOf(this.total - 1);
    return chunk ? chunk.firstSeq + chunk.seqs[chunk.lines - 1] : 0;
  }

  /** The kept lines' text, each line ending in a newline (the open last line without it). */
  text(): string {
    return this.textFrom(this.keptStart());
  }

  lines(): string[] {
    const text = this.text();
    if (text === '') return [];
    return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
  }

  hasUnread(): boolean {
    return this.readMark < this.end();
  }

  /** The text pushed since the last call (what of it is still kept), each line ending in a newline. */
  takeUnread(): string {
    const text = this.textFrom(Math.max(this.readMark, this.keptStart()));
    this.readMark = this.end();
    return text;
  }

  /** Marks all text as read (its reader shows text() instead). */
  skipUnread(): void {
    this.readMark = this.end();
  }

  /** Bytes of the chunks this tail holds, in use or spare, with their facts. */
  allocatedBytes(): number {
    return [...this.chunks, ...this.spare].reduce((sum, c) => sum + c.bytes.length + c.offsets.byteLength * 4 + c.markers.byteLength, 0);
  }

  // ---- reading by line number and seq (the agent tools) ------------------------------------------------------------

  /** The number of the first kept line with a seq above `seq` (`total` when there is none). */
  numberAfter(seq: number): number {
    let lo = this.dropped;
    let hi = this.total;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.seqOf(mid) > seq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  seqOf(line: number): number {
    const chunk = this.chunkOf(line)!;
    return chunk.firstSeq + chunk.seqs[line - chunk.firstLine];
  }

  /** Kept lines `from` to `to` (line numbers, `to` excluded), each cut to `maxBytes` of UTF-8: one pass over the chunks. */
  read(from: number, to: number, maxBytes = Number.MAX_SAFE_INTEGER): StoredLine[] {
    const out: StoredLine[] = [];
    const first = Math.max(from, this.dropped);
    const last = Math.min(to, this.total);
    if (first >= last) return out;
    let index = this.chunkIndexOf(first);
    let i = first - this.chunks[index].firstLine;
    for (let line = first; line < last; line++, i++) {
      while (i >= this.chunks[index].lines) {
        index++;
        i = 0;
      }
      out.push(this.readLine(index, i, line, maxBytes));
    }
    return out;
  }

  /** How many lines with a seq above `seq` were dropped: exact unless older lines than this tail remembers may count too. */
  droppedAfter(seq: number): { count: number; exact: boolean } {
    const ring = this.droppedSeqs;
    if (!ring || this.dropped === 0) return { count: 0, exact: true };
    const oldest = Math.max(0, this.dropped - ring.length);
    let lo = oldest;
    let hi = this.dropped;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (ring[mid % ring.length] > seq) hi = mid;
      else lo = mid + 1;
    }
    return { count: this.dropped - lo, exact: lo > oldest || oldest === 0 };
  }

  /** Line `i` of chunk `index` (line number `line`). */
  private readLine(index: number, i: number, line: number, maxBytes: number): StoredLine {
    const chunk = this.chunks[index];
    const from = chunk.start + chunk.offsets[i];
    const next = i + 1 < chunk.lines ? chunk.start + chunk.offsets[i + 1] : this.nextStart(index);
    const to = this.open && line === this.total - 1 ? next : next - 1;
    let cut = Math.min(to, from + maxBytes);
    while (cut > from && cut < to && (this.byteAt(cut) & 0xc0) === 0x80) cut--; // not inside a character
    const within = cut <= chunk.start + chunk.used; // the common case: the line is in the chunk it starts in
    return {
      seq: chunk.firstSeq + chunk.seqs[i],
      pid: chunk.pids[i],
      time: chunk.firstTime + chunk.times[i],
      marker: chunk.markers[i] === 1,
      slot: this.slot,
      text: within ? chunk.bytes.toString('utf8', from - chunk.start, cut - chunk.start) : this.textFrom(from, cut),
      bytes: to - from,
      textBytes: cut - from,
    };
  }

  /** Where the first line after chunk `index` starts (the stream's end when none does). */
  private nextStart(index: number): number {
    for (let k = index + 1; k < this.chunks.length; k++) if (this.chunks[k].lines > 0) return this.chunks[k].start + this.chunks[k].offsets[0];
    return this.end();
  }

  /** The chunk where line number `line` starts, if it is kept. */
  private chunkOf(line: number): Chunk | undefined {
    return line < this.dropped || line >= this.total ? undefined : this.chunks[this.chunkIndexOf(line)];
  }

  /** The index of the chunk where a kept line starts. */
  private chunkIndexOf(line: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.chunks[mid].firstLine <= line) lo = mid;
      else hi = mid - 1;
    }
    // A chunk that holds only the rest of a long line starts no line: the line starts in one before it.
    while (lo > 0 && this.chunks[lo].lines === 0) lo--;
    return lo;
  }

  private lineStart(line: number): number | undefined {
    const chunk = this.chunkOf(line);
    return chunk && chunk.start + chunk.offsets[line - chunk.firstLine];
  }

  private keptStart(): number {
    return this.lineStart(this.dropped) ?? this.end();
  }

  private byteAt(position: number): number {
    let i = this.chunks.length - 1;
    while (i > 0 && this.chunks[i].start > position) i--;
    return this.chunks[i].bytes[position - this.chunks[i].start];
  }

  /** The text between two stream positions (kept ones), across chunks. */
  private textFrom(from: number, to = this.end()): string {
    const parts: string[] = [];
    for (const chunk of this.chunks) {
      const a = Math.max(from, chunk.start) - chunk.start;
      const b = Math.min(to, chunk.start + chunk.used) - chunk.start;
      if (a < b) parts.push(chunk.bytes.toString('utf8', a, b));
    }
    return parts.length === 1 ? parts[0] : parts.join('');
  }

  private end(): number {
    const last = this.chunks[this.chunks.length - 1];
    return last ? last.start + last.used : this.readMark;
  }

  // ---- writing and trimming -----------------------------------------------------------------------------------------

  /** `ends`: a newline follows; `seq`: a new line's (the push's pid, time and marker), or CONTINUATION of the open line. */
  private write(line: string, ends: boolean, seq: number): void {
    let chunk = this.chunks[this.chunks.length - 1];
    const room = chunk ? chunk.bytes.length - chunk.used : 0;
    // A UTF-16 unit takes at most 3 UTF-8 bytes: count exactly only when that bound does not fit.
    const fits = chunk && (line.length * 3 + 1 <= room || Buffer.byteLength(line) + 1 <= room);
    const isNew = seq !== CONTINUATION;
    if (!fits || (isNew && !this.factsFit(chunk, seq))) chunk = this.newChunk(Buffer.byteLength(line) + 1);
    if (isNew) this.addFacts(chunk, seq);
    chunk.used += chunk.bytes.write(line, chunk.used);
    if (ends) chunk.bytes[chunk.used++] = 10;
  }

  /** The newest line takes `seq` (it is the highest: the order of seqs holds). */
  private renumberLast(seq: number): void {
    const chunk = this.chunkOf(this.total - 1);
    if (!chunk) return;
    const i = this.total - 1 - chunk.firstLine;
    if (i === 0) chunk.firstSeq = seq;
    else if (seq - chunk.firstSeq <= MAX_OFFSET) chunk.seqs[i] = seq - chunk.firstSeq;
  }

  private factsFit(chunk: Chunk, seq: number): boolean {
    return chunk.lines === 0 || (seq - chunk.firstSeq <= MAX_OFFSET && this.pushing.time - chunk.firstTime <= MAX_OFFSET);
  }

  private addFacts(chunk: Chunk, seq: number): void {
    const { pid, time, marker } = this.pushing;
    if (chunk.lines === 0) {
      chunk.firstLine = this.total;
      chunk.firstSeq = seq;
      chunk.firstTime = time;
    }
    if (chunk.lines === chunk.offsets.length) this.growFacts(chunk);
    const i = chunk.lines++;
    chunk.offsets[i] = chunk.used;
    chunk.seqs[i] = seq - chunk.firstSeq;
    chunk.times[i] = time - chunk.firstTime;
    chunk.pids[i] = pid;
    chunk.markers[i] = marker;
  }

  private growFacts(chunk: Chunk): void {
    const size = chunk.offsets.length * 2;
    const grow = <T extends Uint32Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const bigger = make(size);
      bigger.set(old);
      return bigger;
    };
    chunk.offsets = grow(chunk.offsets, (n) => new Uint32Array(n));
    chunk.seqs = grow(chunk.seqs, (n) => new Uint32Array(n));
    chunk.times = grow(chunk.times, (n) => new Uint32Array(n));
    chunk.pids = grow(chunk.pids, (n) => new Int32Array(n));
    chunk.markers = grow(chunk.markers, (n) => new Uint8Array(n));
  }

  private newChunk(need: number): Chunk {
    const last = this.chunks[this.chunks.length - 1];
    const size = Math.max(need, Math.min(CHUNK_BYTES, last ? last.bytes.length * 2 : FIRST_CHUNK_BYTES));
    const reused = size === CHUNK_BYTES ? this.spare.pop() : undefined;
    const facts = Math.max(16, size >> 6);
    const chunk: Chunk = reused ?? {
      bytes: Buffer.allocUnsafeSlow(size),
      start: 0, used: 0, lines: 0, firstLine: 0, firstSeq: 0, firstTime: 0,
      offsets: new Uint32Array(facts), seqs: new Uint32Array(facts), times: new Uint32Array(facts), pids: new Int32Array(facts), markers: new Uint8Array(facts),
    };
    Object.assign(chunk, { start: this.end(), used: 0, lines: 0, firstLine: this.total });
    this.chunks.push(chunk);
    return chunk;
  }

  private trim(): void {
    let drop = 0;
    let kept = this.keptLines;
    while (drop < this.chunks.length - 1 && kept - this.chunks[drop].lines >= this.keep) kept -= this.chunks[drop++].lines;
    for (const chunk of this.chunks.slice(0, drop)) {
      this.rememberDropped(chunk);
      if (chunk.bytes.length === CHUNK_BYTES) this.spare.push(chunk);
    }
    this.chunks = this.chunks.slice(drop);
    this.keptLines = kept;
  }

  private rememberDropped(chunk: Chunk): void {
    const ring = (this.droppedSeqs ??= new Float64Array(Math.max(1, this.keep)));
    for (let i = 0; i < chunk.lines; i++) ring[this.dropped++ % ring.length] = chunk.firstSeq + chunk.seqs[i];
  }
}
