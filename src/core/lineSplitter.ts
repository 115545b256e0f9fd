/**
 * Turns a byte stream into lines (without the newline). Linear in the bytes pushed: a partial line is kept as the
 * chunks it came in and joined once.
 *
 * A line can go out before its newline, in pieces, for two reasons and by one mechanism: it reached MAX_LINE_BYTES
 * (its pending bytes would grow without bound), or the stream went quiet in the middle of it and the owner called
 * `flush()` (a prompt, a progress message, `print(..., end="")` must be seen). Such a piece is *open* (`PIECE_OPEN`):
 * the line goes on in the next piece, which is marked `PIECE_CONTINUED`. The newline that finally ends an open line
 * comes as an empty continued piece when nothing else of the line is left. Nothing is lost or doubled: the pieces
 * of a line, joined, are the line. How a continuation is shown is the reader's choice (LINE_CONTINUATION marks it
 * where it cannot continue the same line on screen).
 */
export const MAX_LINE_BYTES = 1024 * 1024;
export const LINE_CONTINUATION = '↪ ';
/** The piece does not end its line: the next piece continues it. */
export const PIECE_OPEN = 1;
/** The piece continues the line of the open piece before it. */
export const PIECE_CONTINUED = 2;

/** `piece`: 0 for a whole line, else PIECE_OPEN and / or PIECE_CONTINUED. */
export type LineHandler = (line: string, piece: number) => void;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** A piece of the line being read went out: the next piece continues it. */
  private continuing = false;

  constructor(private readonly onLine: LineHandler, private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** Bytes of a line without its newline are waiting. */
  get hasPartial(): boolean {
    return this.pendingBytes > 0;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(10);
    while (newline !== -1) {
      if (this.pendingBytes === 0 && newline - start <= this.maxLineBytes) {
        // The usual line, whole in the chunk: decoded from the chunk itself (a view of it per line costs as much).
        this.emitRange(chunk, start, newline, true);
      } else {
        this.keep(chunk.subarray(start, newline));
        if (this.pendingBytes > 0) this.emit(this.takePending(), true);
      }
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.keep(Buffer.from(chunk.subarray(start)));
  }

  /** The partial line's bytes go out now as an open piece (never half a UTF-8 character); its rest follows later. */
  flush(): void {
    if (this.pendingBytes === 0) return;
    const joined = this.takePending();
    let cut = joined.length;
    // A character whose last bytes have not come yet stays for the next piece.
    let lead = cut - 1;
    while (lead > 0 && lead > cut - 4 && (joined[lead] & 0xc0) === 0x80) lead--;
    const needed = joined[lead] >= 0xf0 ? 4 : joined[lead] >= 0xe0 ? 3 : joined[lead] >= 0xc0 ? 2 : 1;
    if (lead + needed > cut) cut = lead;
    if (cut > 0 && joined[cut - 1] === 13) cut--; // a CR stays: if a newline follows it, it is dropped with it
    if (cut === 0) {
      this.pending = [joined];
      this.pendingBytes = joined.length;
      return;
    }
    this.emit(joined.subarray(0, cut), false);
    this.keepRest(joined, cut);
  }

  /** Emits what is left as a last line (the stream ended without a newline). */
  end(): void {
    if (this.pendingBytes > 0) this.emit(this.takePending(), true);
    else if (this.continuing) this.emit(Buffer.alloc(0), true);
  }

  /** Adds to the partial line; past maxLineBytes, a whole piece goes out at once. */
  private keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > this.maxLineBytes) this.cutLongLine();
  }

  private takePending(): Buffer {
    const joined = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return joined;
  }

  private keepRest(joined: Buffer, cut: number): void {
    const rest = joined.subarray(cut);
    if (rest.length > 0) {
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
  }

  /** Emits the first maxLineBytes of the pending line (never half a UTF-8 character) and keeps the rest. */
  private cutLongLine(): void {
    const joined = this.takePending();
    let cut = this.maxLineBytes;
    // A UTF-8 continuation byte (10xxxxxx) belongs to the character before it: cut before that character.
    while (cut > 0 && (joined[cut] & 0xc0) === 0x80) cut--;
    if (cut > 1 && joined[cut - 1] === 13) cut--; // as in flush(): the CR goes with what follows it
    if (cut === 0) cut = this.maxLineBytes;
    this.emit(joined.subarray(0, cut), false);
    this.keepRest(joined, cut);
  }

  /** `complete`: the line ends here (a CR before its newline is dropped); else an open piece, kept as it is. */
  private emit(bytes: Buffer, complete: boolean): void {
    this.emitRange(bytes, 0, bytes.length, complete);
  }

  private emitRange(bytes: Buffer, start: number, end: number, complete: boolean): void {
    const last = complete && end > start && bytes[end - 1] === 13 ? end - 1 : end;
    const piece = (this.continuing ? PIECE_CONTINUED : 0) | (complete ? 0 : PIECE_OPEN);
    this.continuing = !complete;
    this.onLine(bytes.toString('utf8', start, last), piece);
  }
}
