/**
 * The lines of an output event for a reader that shows each on a line of its own (a terminal, the CLI, a channel
 * whose open line another stream has ended): the rest of a line that went out without its newline is marked as a
 * continuation, and the empty rest that only ends such a line is left out.
 */
import { LINE_CONTINUATION } from '../lineSplitter';
import type { OutputEvent } from '../serverEvents';

export function separateLines(event: Pick<OutputEvent, 'lines' | 'continues'>): string[] {
  const { lines } = event;
  if (!event.continues || lines.length === 0) return lines;
  return lines[0] === '' ? lines.slice(1) : [LINE_CONTINUATION + lines[0], ...lines.slice(1)];
}
