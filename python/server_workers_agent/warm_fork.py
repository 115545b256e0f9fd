"""Workers forked from a warm master, for Uvicorn and Hypercorn, which spawn them (docs/agent-protocol.md, "Reload").

Uvicorn and Hypercorn start each worker as a new interpreter (multiprocessing's spawn): it imports the server, the
app's libraries and the app, about 0.8 s of CPU for the FastAPI example, so a reload of 4 workers needs 3.2 s of CPU,
over 1.6 s on two cores. Once the master has imported the library modules a worker uses (warm_master's
``preimport``), the agent forks their next workers from the master instead (multiprocessing's fork, the way Gunicorn
starts its workers): they start with those libraries and import only the app. The app is never imported in the master, so a reload still runs
the new code. The fork inherits the master's signal handlers, which a spawned interpreter would not have: they are
reset in the child before it takes the worker role. ``SERVER_WORKERS_WARM_MASTER=0`` turns this off with the rest of
the warm master.

Stdlib only, Python 3.9+, fail open. Imported by warm_master: it registers its patches and its hook.
"""

import signal
import sys
import threading
from multiprocessing import context as mp_context

from . import patches
from .state import hooks, state

# The modules whose signal handlers a master installs for itself (Uvicorn's supervisor).
_MASTER_HANDLER_MODULES = frozenset(("uvicorn.supervisors.multiprocess", "hypercorn.run"))


# Held while the master imports on a thread of the agent: a fork in the middle of an import would give the child a
# module half run, whose lock no thread of the child holds any more. Granian forks its workers under it.
IMPORT_LOCK = threading.Lock()


class _Forking:
    def __init__(self):
        self.warm = False  # the master imported the workers' libraries: its next workers are forked
        self.patched = False  # Uvicorn's or Hypercorn's Process factory goes through _WarmContext; Granian forks


_forking = _Forking()


def available():
    """In Uvicorn's or Hypercorn's master, where its workers can be forked once it is warm; in Granian's, which forks
    them already. Linux only: on macOS a fork after some system libraries have loaded can crash the child (why
    multiprocessing spawns there)."""
    return _forking.patched and state.active("master") and sys.platform.startswith("linux")


def forking():
    """The master is warm and forks its workers."""
    return _forking.warm and available()


def enable():
    """The master is warm: from now on, its workers are forked."""
    if available():
        _forking.warm = True


def fork_warm_worker(process_obj):
    """forks.py knows a fork of the master under a function of this name for a worker's."""
    from multiprocessing.popen_fork import Popen

    return Popen(process_obj)


class WarmWorkerProcess(mp_context.ForkProcess):
    @staticmethod
    def _Popen(process_obj):
        return fork_warm_worker(process_obj)


class _WarmContext:
    """Stands for the spawn context of Uvicorn (``uvicorn._subprocess.spawn``) or Hypercorn (``get_context("spawn")`` in
    ``hypercorn.run``): spawns until the master is warm, then forks. Everything else (Hypercorn's Event) is spawn's."""

    def __init__(self, spawn):
        self._spawn = spawn

    def Process(self, *args, **kwargs):
        if forking():
            return WarmWorkerProcess(*args, **kwargs)
        return self._spawn.Process(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._spawn, name)


def _wrap_spawn_context(module):
    spawn = getattr(module, "spawn", None)
    if spawn is None or isinstance(spawn, _WarmContext) or not hasattr(module, "get_subprocess"):
        return
    module.spawn = _WarmContext(spawn)
    _forking.patched = True


def _wrap_get_context(module):
    """Hypercorn's ``run`` takes its context from the module's ``get_context`` when it starts."""
    original = getattr(module, "get_context", None)
    if original is None or getattr(original, "_server_workers_warm", False):
        return

    def get_context(method=None):
        context = original(method)
        return _WarmContext(context) if method == "spawn" else context

    get_context._server_workers_warm = True
    module.get_context = get_context
    _forking.patched = True


def _fork_after_imports(module):
    """Granian forks its workers (AbstractWorker.start) from its main thread: never while the agent imports."""

    def wrap(original):
        def start(self, *args, **kwargs):
            with IMPORT_LOCK:
                return original(self, *args, **kwargs)

        return start

    patches.patch_method(module.AbstractWorker, "start", wrap)
    if hasattr(module, "AbstractServer"):
        _forking.patched = True


def _reset_master_handlers():
    """In a forked worker: the handlers the master installed for itself go back to what an interpreter starts with."""
    for number in signal.valid_signals():
        try:
            handler = signal.getsignal(number)
            if getattr(handler, "__module__", None) in _MASTER_HANDLER_MODULES:
                signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
        except (OSError, ValueError, TypeError):
            pass


hooks.worker_forked.append(_reset_master_handlers)
patches.add_patch("uvicorn._subprocess", _wrap_spawn_context)
patches.add_patch("hypercorn.run", _wrap_get_context)
patches.add_patch("granian.server.common", _fork_after_imports)
