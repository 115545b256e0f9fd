"""Granian's SIGHUP, every position at once and each old worker stopped once its successor is ready
(docs/agent-protocol.md, "Reload").

Granian replaces its workers one position at a time: it starts the successor, sleeps ``--respawn-interval`` (3.5 s by
default), then stops the old worker, whether the successor is ready or not. Four workers take 15 s, and a successor
slower than the interval leaves its position with no ready worker. In the master, the agent's ``_reload`` starts
every successor at once, then stops each old worker as soon as the supervisor says its successor is ready
(``worker-ready``). A successor that exits first (the supervisor ends one that is not ready within its reload timeout,
and not one that waits in pdb) is reaped with every process it started, and the old worker keeps its position: new
code that does not boot never takes a position from a worker that serves. Without the supervisor's connection,
Granian's own reload runs.

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its command and its patch.
"""

import signal
import threading
import time

from . import descendants, patches
from .connection import command
from .state import state


class _Successors:
    def __init__(self):
        self.ready = set()  # pids the supervisor said are ready
        self.changed = threading.Condition()


_successors = _Successors()


@command("worker-ready")
def _worker_ready(message):
    pid = message.get("pid")
    if isinstance(pid, int):
        with _successors.changed:
            _successors.ready.add(pid)
            _successors.changed.notify_all()
    return {"t": "worker-ready"}


def _pid(worker):
    try:
        return worker._id()
    except Exception:
        return None


def _all_at_once(original):
    def _reload(self, spawn_target, target_loader):
        if not state.active("master") or state.control is None or not hasattr(self, "_spawn_worker"):
            return original(self, spawn_target, target_loader)
        log = _module_logger(self)
        log.info("HUP signal received, gracefully respawning workers..")
        self.reload_signal = False
        self.respawned_wrks.clear()
        self.main_loop_interrupt.clear()
        self._env_loader(self.env_files)
        self._call_hooks(self.hooks_reload)
        with _successors.changed:
            _successors.ready.clear()
        pairs = []
        for idx in range(self.workers):
            self.respawned_wrks[idx] = time.monotonic()
            log.info("Respawning worker-%s", idx + 1)
            old = self.wrks.pop(idx)
            successor = self._spawn_worker(idx=idx, target=spawn_target, callback_loader=target_loader)
            successor.start()
            self.wrks.insert(idx, successor)
            pairs.append((idx, old, successor))
        log.info("Server Workers: every successor started at once; each old worker stops once its successor is ready")
        for idx, old, successor in pairs:
            if _wait_until_ready(successor):
                _stop_old(self, log, idx, old)
            else:
                _keep_old(self, log, idx, old, successor)
        self._metrics.incr_spawn(len(pairs))
        return None

    return _reload


def _wait_until_ready(successor):
    """True once the supervisor said the successor is ready; false once it is gone, or the server is stopping."""
    pid = _pid(successor)
    with _successors.changed:
        while pid not in _successors.ready:
            if not successor.is_alive() or successor.parent.interrupt_signal:
                return False
            _successors.changed.wait(0.1)
    return True


def _keep_old(server, log, idx, old, successor):
    """A successor that did not get ready: it goes, with whatever it started, and the old worker takes its position
    back, as if the reload had not touched it."""
    successor.interrupt_by_parent = True  # its end is no crash to respawn
    pid = _pid(successor)
    if pid:
        descendants.signal_descendants(signal.SIGKILL, root=pid)
    if successor.is_alive():
        successor.kill()
    successor.join()
    _join_watcher(successor)
    server.wrks[idx] = old
    # Its own exit (before the flag was set) may have been counted as a crash: it is none.
    if idx in server.interrupt_children:
        server.interrupt_children.remove(idx)
    server.respawned_wrks.pop(idx, None)
    if not server.interrupt_children:
        server.main_loop_interrupt.clear()
        if server.interrupt_signal or server.reload_signal or getattr(server, "lifetime_signal", False) or getattr(server, "rss_signal", False):
            server.main_loop_interrupt.set()  # a signal came meanwhile: the loop handles it
    log.warning("Server Workers: worker-%s's successor was not ready; the old worker keeps serving", idx + 1)


def _join_watcher(worker):
    """Granian's thread that waits for the worker's exit (its ``_watcher``) has decided by the time it ends."""
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__self__", None) is worker and thread is not threading.current_thread():
            thread.join(1.0)


def _stop_old(server, log, idx, old):
    """Granian's own steps for an old worker: terminate, join within its kill timeout, else kill."""
    log.info("Stopping old worker-%s", idx + 1)
    old.terminate()
    old.join(server.workers_kill_timeout)
    if server.workers_kill_timeout:
        if old.is_alive():
            time.sleep(0.001)
        if old.is_alive():
            log.warning("Killing old worker-%s after it refused to gracefully stop", idx + 1)
            old.kill()
            old.join()
    log.info("Stopped old worker-%s", idx + 1)


def _module_logger(server):
    import sys

    module = sys.modules.get(type(server).__module__)
    common = sys.modules.get("granian.server.common")
    return getattr(common, "logger", None) or getattr(module, "logger")


patches.add_patch("granian.server.common", lambda module: patches.patch_method(module.AbstractServer, "_reload", _all_at_once))
