/** Turns a byte stream into complete lines (without the newline); a trailing partial line is kept until more arrives. */
export class LineSplitter {
  private pending: Buffer | undefined;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(10);
    if (newline !== -1 && this.pending) {
      this.emit(Buffer.concat([this.pending, chunk.subarray(0, newline)]));
      this.pending = undefined;
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    while (newline !== -1) {
      this.emit(chunk.subarray(start, newline));
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending = this.pending ? Buffer.concat([this.pending, rest]) : Buffer.from(rest);
    }
  }

  /** Emits what is left as a last line (the stream ended without a newline). */
  end(): void {
    if (this.pending && this.pending.length > 0) this.emit(this.pending);
    this.pending = undefined;
  }

  private emit(bytes: Buffer): void {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    this.onLine(bytes.toString('utf8', 0, end));
  }
}
