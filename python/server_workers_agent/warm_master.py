"""A warm Gunicorn master for reloads (docs/agent-protocol.md, "Reload").

Gunicorn forks every worker from its master, which (without ``--preload``) has imported none of the app's libraries:
each new worker imports FastAPI, Pydantic, Flask... again, and a reload pays that CPU once per worker. The supervisor
asks a ready worker which library modules it has loaded (``modules``: from site-packages and the standard library
only, never the app's own code or an editable install, never the debugger) and hands the list to the master
(``preimport``); the master imports them on its main thread, right before it next manages its workers, so that the
workers it forks from then on inherit them. The app itself is never imported in the master: a reload still runs the
new code. ``SERVER_WORKERS_WARM_MASTER=0`` in the server's environment turns this off.

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its commands and its patch.
"""

import importlib
import os
import sys
import sysconfig
import time

from . import patches
from .connection import command
from .state import state

ENV_WARM_MASTER = "SERVER_WORKERS_WARM_MASTER"
# Packages that must not be imported before a fork (monkey-patching that must come first, fork-unsafe runtimes),
# and the debugger and the agent themselves.
_NEVER = frozenset((
    "gevent", "eventlet", "grpc", "torch", "tensorflow", "jax", "jaxlib",
    "debugpy", "server_workers_agent", "sitecustomize", "__main__",
))
_NEVER_PREFIXES = ("pydev", "_pydev")  # debugpy's vendored pydevd: top-level modules of its own
_NEVER_IN_PATH = os.sep + "debugpy" + os.sep


def _excluded(name):
    top = name.split(".", 1)[0]
    return top in _NEVER or top.startswith(_NEVER_PREFIXES)


class _Warm:
    def __init__(self):
        self.pending = []  # module names the master imports at its next manage_workers
        self.arbiter = None


_warm = _Warm()


def _library_folders():
    paths = sysconfig.get_paths()
    folders = {paths.get("stdlib"), paths.get("platstdlib"), paths.get("purelib"), paths.get("platlib")}
    for entry in sys.path:
        if entry and os.path.basename(entry.rstrip(os.sep)) in ("site-packages", "dist-packages"):
            folders.add(entry)
    return tuple(os.path.realpath(folder) + os.sep for folder in folders if folder)


def _is_library(module, folders):
    """From site-packages or the standard library (an app's own code, or an editable install, is elsewhere)."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    real = os.path.realpath(file)
    return real.startswith(folders) and _NEVER_IN_PATH not in real


@command("modules")
def _modules(message):
    """In a worker: the library modules it has loaded (what a warm master may import for the next workers)."""
    folders = _library_folders()
    names = sorted(
        name for name, module in list(sys.modules.items())
        if module is not None and not _excluded(name) and _is_library(module, folders)
    )
    return {"t": "modules", "modules": names}


@command("preimport")
def _preimport(message):
    """In Gunicorn's master: import these modules on the main thread, before the next workers are forked."""
    arbiter = _warm.arbiter
    if os.environ.get(ENV_WARM_MASTER) == "0" or not state.active("master") or arbiter is None:
        return {"t": "preimport", "queued": 0}
    if any(marker in str(getattr(arbiter.cfg, "worker_class_str", "")).lower() for marker in ("gevent", "eventlet")):
        return {"t": "preimport", "queued": 0}
    names = [name for name in message.get("modules") or [] if isinstance(name, str) and name not in sys.modules]
    names = [name for name in names if not _excluded(name)]
    _warm.pending.extend(names)
    try:
        arbiter.wakeup()
    except Exception:
        pass
    return {"t": "preimport", "queued": len(names)}


def _import_pending(arbiter):
    names, _warm.pending = _warm.pending, []
    started = time.monotonic()
    imported = 0
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
            imported += 1
        except Exception:
            pass  # a module that needs what only the app sets up: the workers import it themselves
    try:
        arbiter.log.info(
            "Server Workers: the master imported %s library modules in %.2f s; new workers start with them",
            imported, time.monotonic() - started,
        )
    except Exception:
        pass


def _import_first(original):
    def manage_workers(self, *args, **kwargs):
        try:
            if state.active("master"):
                _warm.arbiter = self
                if _warm.pending:
                    _import_pending(self)
        except Exception:
            pass
        return original(self, *args, **kwargs)

    return manage_workers


patches.add_patch("gunicorn.arbiter", lambda module: patches.patch_method(module.Arbiter, "manage_workers", _import_first))
