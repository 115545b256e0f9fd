"""Uvicorn's SIGHUP, all workers at once (docs/agent-protocol.md, "Reload").

Uvicorn 0.51+ restarts its workers on SIGHUP one at a time: it starts a new worker, waits until it is ready (its
ping), then stops the old one; a new worker that is not ready in time is killed and the restart aborted, the old
workers kept. Safe, but a reload of N workers takes N boots in a row. In the master, the agent replaces
``Multiprocess.restart_all`` with the same steps for every worker at once: start N new workers, wait until each is
ready, then stop the N old ones (they finish their requests); if one is not ready, kill the new ones and keep the old
ones, as Uvicorn does, and every process a new one started with it (its children would outlive it, adopted by the
master). A new worker is waited for as long as it lives and is not ready: the supervisor ends one that is not ready
within its reload timeout (and not one that waits in pdb), which aborts the restart. Only where Uvicorn's own restart
waits for readiness (``Process.wait_until_ready``); older Uvicorn is left alone (and the supervisor restarts it
instead: its SIGHUP stops a worker before its replacement is ready).

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its patch.
"""

import signal

from . import descendants, patches
from .state import state

WAIT_STEP_SECONDS = 5.0


class _Restart:
    patched = False


_restart = _Restart()


def available():
    """Uvicorn's SIGHUP replaces the workers only once their successors are ready (this module's restart_all)."""
    return _restart.patched and state.active("master")


def _all_at_once(module):
    process_class = getattr(module, "Process", None)
    if process_class is None or not hasattr(process_class, "wait_until_ready"):
        return None  # an older Uvicorn: its restart does not wait for readiness

    def wrap(original):
        def restart_all(self, *args, **kwargs):
            if not state.active("master"):
                return original(self, *args, **kwargs)
            _restart_all_at_once(module, self)
            return None

        return restart_all

    patches.patch_method(module.Multiprocess, "restart_all", wrap)
    _restart.patched = True
    return None


def _restart_all_at_once(module, manager):
    logger = module.logger
    old = list(manager.processes)
    new = []
    for _ in old:
        if manager.should_exit.is_set():
            break
        process = module.Process(manager.config, manager.sockets)
        process.start()
        new.append(process)
    ready = len(new) == len(old) and all(_ready_or_gone(process, manager.should_exit) for process in new)
    if not ready:
        for process in new:
            descendants.signal_descendants(signal.SIGKILL, root=process.pid)
            process.kill()
        for process in new:
            process.join()
        if not manager.should_exit.is_set():
            logger.error("New child processes were not ready in time; keeping workers %s and aborting the restart.", [p.pid for p in old])
        return
    for process in old:
        process.terminate()
    for process in old:
        process.join()
    manager.processes[:] = new


def _ready_or_gone(process, should_exit):
    """True once the new worker is ready; false once it is gone (the supervisor ends a hung one) or the server stops."""
    while not process.wait_until_ready(WAIT_STEP_SECONDS, should_exit):
        if should_exit.is_set() or not process.process.is_alive():  # Uvicorn's own is_alive pings, and may time out
            return False
    return True


patches.add_patch("uvicorn.supervisors.multiprocess", _all_at_once)
