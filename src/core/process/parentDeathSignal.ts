/**
 * The server's master must not outlive its supervisor, even when the supervisor is killed outright and the agent is
 * off. Linux's parent-death signal does that: set in the child before it execs the server, it survives the exec, and
 * the kernel sends it when the supervising thread ends. A short Python preamble sets it (`-S`: without site, so the
 * agent's sitecustomize does not run in it) and execs the server in the same process.
 *
 * The same preamble makes the master a child subreaper (kept across the exec too): a descendant whose parent exits is
 * adopted by the master, not by init, so every process the server started stays below the master while it runs
 * (descendants.ts walks that tree).
 */

/** SIGTERM, not SIGKILL: the master then stops its workers as on any stop. */
const PREAMBLE = [
  'import os, signal, sys',
  'try:',
  '    import ctypes',
  '    libc = ctypes.CDLL(None)',
  '    libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG',
  '    libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER',
  'except Exception:',
  '    pass  # not Linux, or no ctypes: the agent\'s watchdog remains',
  'if os.getppid() != int(sys.argv[1]):',
  '    sys.exit("the supervising process %s exited before the server started" % sys.argv[1])',
  'os.execvp(sys.argv[2], sys.argv[2:])',
].join('\n');

/** The arguments that make `python` run the server (`serverArgv`, after the interpreter) with the parent-death signal set. */
export function withParentDeathSignal(python: string, serverArgv: readonly string[], supervisorPid = process.pid): string[] {
  return ['-S', '-c', PREAMBLE, String(supervisorPid), python, ...serverArgv];
}
