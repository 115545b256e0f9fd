/** Ending a process with everything below it: its descendants first (found while it still runs), then the process. */
import { descendantsOf, signalIfSame } from './descendants';
import type { ProcessIdentity } from './procfs';

/** SIGKILL to every descendant of `identity` /proc shows, then to it (each only if it is still the same process). */
export function killProcessTree(identity: ProcessIdentity): void {
  const below = descendantsOf(identity);
  signalIfSame(identity, 'SIGKILL');
  for (const descendant of below) signalIfSame(descendant, 'SIGKILL');
}
