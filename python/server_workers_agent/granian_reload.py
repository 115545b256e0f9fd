"""Granian's SIGHUP, every position at once and each old worker stopped once its successor is ready
(docs/agent-protocol.md, "Reload").

Granian replaces its workers one position at a time: it starts the successor, sleeps ``--respawn-interval`` (3.5 s by
default), then stops the old worker, whether the successor is ready or not. Four workers take 15 s, and a successor
slower than the interval leaves its position with no ready worker. In the master, the agent's ``_reload`` starts
every successor at once, then stops each old worker as soon as the supervisor says its successor is ready
(``worker-ready``), or once the successor has exited (Granian then handles the crash as it would), or after
``READY_TIMEOUT`` seconds, as Granian stops it after its interval. Without the supervisor's connection, Granian's own
reload runs.

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its command and its patch.
"""

import threading
import time

from . import patches
from .connection import command
from .state import state

READY_TIMEOUT = 60.0


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
        deadline = time.monotonic() + max(READY_TIMEOUT, float(getattr(self, "respawn_interval", 0) or 0))
        for idx, old, successor in pairs:
            _wait_until_ready(successor, deadline)
            _stop_old(self, log, idx, old)
        self._metrics.incr_spawn(len(pairs))
        return None

    return _reload


def _wait_until_ready(successor, deadline):
    pid = _pid(successor)
    with _successors.changed:
        while pid not in _successors.ready and successor.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            _successors.changed.wait(min(left, 0.1))


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
