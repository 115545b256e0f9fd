/**
 * The newest lines of a stream, bounded by a line count, kept as UTF-8 bytes in chunks that are reused.
 *
 * Why bytes and not one string per line: a log flood passes a million lines through here. Strings that live until a
 * trim (tens of thousands of lines) are promoted to V8's old generation and die there, and lines that wait for the
 * next append survive the young generation's collections and make it grow: the process's memory grew by 130 MB for a
 * million lines (npm run bench, log flood). Here a line is copied into a chunk and its string dies at once; a trim
 * hands whole chunks back for reuse, so a flood allocates nothing once the tail is full.
 */

/** Chunks start small (a quiet channel costs little) and double up to this size; only full-size chunks are reused. */
export const CHUNK_BYTES = 64 * 1024;
const FIRST_CHUNK_BYTES = 4 * 1024;

interface Chunk {
  bytes: Buffer;
  /** Position of bytes[0] in the stream (all bytes ever pushed). */
  start: number;
  used: number;
  lines: number;
}

export class LineTail {
  private chunks: Chunk[] = [];
  private readonly spare: Buffer[] = [];
  private keptLines = 0;
  /** Stream position up to which takeUnread() has returned the text. */
  private readMark = 0;
  /** Lines ever pushed. */
  total = 0;
  /** Lines dropped by trims. */
  dropped = 0;
  /** The last line has no newline yet: a continuation is written right after it. */
  private open = false;

  /**
   * Holds at most `max` of the newest lines: past it, a trim drops the oldest whole chunks down to at least `keep`
   * lines. A reader that shows all kept lines after each trim resends `keep` lines per `max - keep` new ones.
   */
  constructor(readonly keep: number, readonly max: number) {}

  /**
   * `joinFirst`: the first line continues the open last line (it is not a new line); `leaveOpen`: the last line has
   * no newline yet. An open line that the next push does not continue is ended first.
   */
  push(lines: readonly string[], joinFirst = false, leaveOpen = false): void {
    const joins = joinFirst && this.open && lines.length > 0;
    if (this.open && !joins) this.write('', true, true);
    const last = lines.length - 1;
    for (let i = 0; i < lines.length; i++) this.write(lines[i], i < last || !leaveOpen, joins && i === 0);
    this.open = leaveOpen && lines.length > 0;
    const added = lines.length - (joins ? 1 : 0);
    this.total += added;
    this.keptLines += added;
    if (this.keptLines > this.max) this.trim();
  }

  /** The last line has no newline yet. */
  get endsOpen(): boolean {
    return this.open;
  }

  /** The kept lines' text, each line ending in a newline. */
  text(): string {
    return this.chunks.map((chunk) => chunk.bytes.toString('utf8', 0, chunk.used)).join('');
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
    const parts: string[] = [];
    for (const chunk of this.chunks) {
      const from = Math.max(0, this.readMark - chunk.start);
      if (from < chunk.used) parts.push(chunk.bytes.toString('utf8', from, chunk.used));
    }
    this.readMark = this.end();
    return parts.join('');
  }

  /** Marks all text as read (its reader shows text() instead). */
  skipUnread(): void {
    this.readMark = this.end();
  }

  /** Bytes of the chunks this tail holds, in use or spare. */
  allocatedBytes(): number {
    return [...this.chunks.map((chunk) => chunk.bytes), ...this.spare].reduce((sum, bytes) => sum + bytes.length, 0);
  }

  private end(): number {
    const last = this.chunks[this.chunks.length - 1];
    return last ? last.start + last.used : this.readMark;
  }

  /** `ends`: a newline follows; `continues`: the text goes on the open line (counted when it opened). */
  private write(line: string, ends: boolean, continues = false): void {
    let chunk = this.chunks[this.chunks.length - 1];
    const room = chunk ? chunk.bytes.length - chunk.used : 0;
    // A UTF-16 unit takes at most 3 UTF-8 bytes: count exactly only when that bound does not fit.
    if (!chunk || (line.length * 3 + 1 > room && Buffer.byteLength(line) + 1 > room)) chunk = this.newChunk(Buffer.byteLength(line) + 1);
    chunk.used += chunk.bytes.write(line, chunk.used);
    if (ends) chunk.bytes[chunk.used++] = 10;
    if (!continues) chunk.lines++;
  }

  private newChunk(need: number): Chunk {
    const last = this.chunks[this.chunks.length - 1];
    const size = Math.max(need, Math.min(CHUNK_BYTES, last ? last.bytes.length * 2 : FIRST_CHUNK_BYTES));
    const bytes = size === CHUNK_BYTES ? (this.spare.pop() ?? Buffer.allocUnsafeSlow(size)) : Buffer.allocUnsafeSlow(size);
    const chunk = { bytes, start: this.end(), used: 0, lines: 0 };
    this.chunks.push(chunk);
    return chunk;
  }

  private trim(): void {
    let drop = 0;
    let kept = this.keptLines;
    while (drop < this.chunks.length - 1 && kept - this.chunks[drop].lines >= this.keep) kept -= this.chunks[drop++].lines;
    for (const { bytes } of this.chunks.slice(0, drop)) if (bytes.length === CHUNK_BYTES) this.spare.push(bytes);
    this.chunks = this.chunks.slice(drop);
    this.dropped += this.keptLines - kept;
    this.keptLines = kept;
  }
}
