/**
 * Turns a byte stream into complete lines (without the newline); a trailing partial line is kept until more arrives.
 * Linear in the bytes pushed: a partial line is kept as the chunks it came in and joined once, when it ends or
 * reaches MAX_LINE_BYTES. A longer line is cut there into pieces; each piece after the first starts with
 * LINE_CONTINUATION, so nothing is lost and the cut is visible.
 */
export const MAX_LINE_BYTES = 1024 * 1024;
export const LINE_CONTINUATION = '↪ ';

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The line being read was cut: its next piece is a continuation. */
  private continuing = false;

  constructor(private readonly onLine: (line: string) => void, private readonly maxLineBytes = MAX_LINE_BYTES) {}

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(10);
    while (newline !== -1) {
      const segment = chunk.subarray(start, newline);
      if (this.pendingBytes === 0 && segment.length === 0 && this.continuing) {
        // a cut line whose last piece went out whole: its newline ends it, with no empty piece
      } else if (this.pendingBytes === 0 && segment.length <= this.maxLineBytes) {
        this.emit(segment, true);
      } else {
        this.keep(segment);
        if (this.pendingBytes > 0) this.emit(this.takePending(), true);
      }
      this.continuing = false;
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.keep(Buffer.from(chunk.subarray(start)));
  }

  /** Emits what is left as a last line (the stream ended without a newline). */
  end(): void {
    if (this.pendingBytes > 0) this.emit(this.takePending(), true);
    this.continuing = false;
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

  /** Emits the first maxLineBytes of the pending line (never half a UTF-8 character) and keeps the rest. */
  private cutLongLine(): void {
    const joined = this.takePending();
    let cut = this.maxLineBytes;
    // A UTF-8 continuation byte (10xxxxxx) belongs to the character before it: cut before that character.
    while (cut > 0 && (joined[cut] & 0xc0) === 0x80) cut--;
    if (cut === 0) cut = this.maxLineBytes;
    this.emit(joined.subarray(0, cut), false);
    this.continuing = true;
    const rest = joined.subarray(cut);
    if (rest.length > 0) {
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
  }

  /** `complete`: the line ended here (a CR before its newline is dropped); else a cut piece, kept as it is. */
  private emit(bytes: Buffer, complete: boolean): void {
    const end = complete && bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    const text = bytes.toString('utf8', 0, end);
    this.onLine(this.continuing ? LINE_CONTINUATION + text : text);
  }
}
