"""A warm master for reloads: Gunicorn's, Uvicorn's, Hypercorn's and Granian's (docs/agent-protocol.md, "Reload").

Gunicorn forks every worker from its master, which (without ``--preload``) has imported none of the app's libraries:
each new worker imports FastAPI, Pydantic, Flask... again, and a reload pays that CPU once per worker. The supervisor
asks a ready worker which library modules it has loaded (``modules``: from site-packages and the standard library
only, never the app's own code or an editable install, never the debugger) and hands the list to the master
(``preimport``); the master imports them on its main thread, right before it next manages its workers, so that the
workers it forks from then on inherit them. Uvicorn's master does the same before it next handles its signals,
Hypercorn's and Granian's on a thread of the agent; then Uvicorn and Hypercorn fork their workers instead of spawning
them (warm_fork), and Granian forks them as it always does. The app itself is never imported in the master: a reload
still runs the new code. ``SERVER_WORKERS_WARM_MASTER=0`` in the server's environment turns this off.

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its commands and its patch.
"""

import importlib
import os
import sys
import sysconfig
import time

from . import patches, warm_fork
from .connection import command, start_daemon_thread
from .state import state

ENV_WARM_MASTER = "SERVER_WORKERS_WARM_MASTER"
# Packages that must not be imported before a fork (monkey-patching that must come first, fork-unsafe runtimes),
# and the debugger and the agent themselves.
_NEVER = frozenset((
    "gevent", "eventlet", "grpc", "torch", "tensorflow", "jax", "jaxlib",
    "debugpy", "server_workers_agent", "sitecustomize", "__main__", "__mp_main__",
))
_NEVER_PREFIXES = ("pydev", "_pydev")  # debugpy's vendored pydevd: top-level modules of its own
_NEVER_IN_PATH = os.sep + "debugpy" + os.sep


def _excluded(name):
    top = name.split(".", 1)[0]
    return top in _NEVER or top.startswith(_NEVER_PREFIXES)


class _Warm:
    def __init__(self):
        self.pending = []  # module names the master imports at its next manage_workers (Uvicorn: handle_signals)
        self.arbiter = None
        self.fork_when_imported = False  # Uvicorn: fork the workers once the pending modules are imported


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
    """In the master: import these modules before the next workers start (Gunicorn's and Uvicorn's on the main thread)."""
    arbiter = _warm.arbiter
    if os.environ.get(ENV_WARM_MASTER) == "0" or not state.active("master") or (arbiter is None and not warm_fork.available()):
        return {"t": "preimport", "queued": 0}
    if arbiter is not None and any(marker in str(getattr(arbiter.cfg, "worker_class_str", "")).lower() for marker in ("gevent", "eventlet")):
        return {"t": "preimport", "queued": 0}
    names = [name for name in message.get("modules") or [] if isinstance(name, str) and name not in sys.modules]
    names = [name for name in names if not _excluded(name)]
    _warm.pending.extend(names)
    if arbiter is None and state.server in ("hypercorn", "granian"):
        # Their main thread waits (Hypercorn's for its workers to exit, Granian's for a signal): the import runs on a
        # thread of its own, and no worker is forked before it is done.
        start_daemon_thread("server-workers-warm", _import_then_fork_now, _StderrLog())
        return {"t": "preimport", "queued": len(names), "forks": True}
    if arbiter is None:
        _warm.fork_when_imported = True  # Uvicorn's main loop looks every 0.5 s
        return {"t": "preimport", "queued": len(names), "forks": True}
    try:
        arbiter.wakeup()
    except Exception:
        pass
    return {"t": "preimport", "queued": len(names)}


def _import_pending(log, forked_how="new workers start with them"):
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
        log.info("Server Workers: the master imported %s library modules in %.2f s; %s", imported, time.monotonic() - started, forked_how)
    except Exception:
        pass


def _import_first(original):
    def manage_workers(self, *args, **kwargs):
        try:
            if state.active("master"):
                _warm.arbiter = self
                if _warm.pending:
                    _import_pending(self.log)
        except Exception:
            pass
        return original(self, *args, **kwargs)

    return manage_workers


class _StderrLog:
    """Hypercorn's master has no logger of its own (Granian's writes to stdout): these lines go to stderr, which is the
    master's channel too."""

    def info(self, message, *args):
        sys.stderr.write((message % args) + "\n")
        sys.stderr.flush()


def _import_then_fork_now(log):
    try:
        with warm_fork.IMPORT_LOCK:
            _import_pending(log, "new workers are forked with them")
        warm_fork.enable()
    except Exception:
        pass


def _import_then_fork(module):
    def wrap(original):
        def handle_signals(self, *args, **kwargs):
            try:
                if state.active("master") and _warm.fork_when_imported:
                    _warm.fork_when_imported = False
                    _import_then_fork_now(module.logger)
            except Exception:
                pass
            return original(self, *args, **kwargs)

        return handle_signals

    patches.patch_method(module.Multiprocess, "handle_signals", wrap)


patches.add_patch("gunicorn.arbiter", lambda module: patches.patch_method(module.Arbiter, "manage_workers", _import_first))
patches.add_patch("uvicorn.supervisors.multiprocess", _import_then_fork)
