"""Reloads that never halt the server, and workers that drain before they stop (docs/agent-protocol.md, "Reload").

- **The boot guard** (Gunicorn's master). Gunicorn halts the whole arbiter when a worker exits with its boot-error
  codes (3: the worker failed to boot, 4: the app failed to load): a save that breaks the app's import would take the
  server down at the next reload or respawn. Once the supervisor sends ``guard-boots`` (when the server runs, so a
  first start that cannot import still fails at once), a worker that exits with one of those codes is reported to the
  supervisor as it exited, and Gunicorn is handed exit code 1 instead; ``num_workers`` goes down by one (never below
  1) so that the worker is not respawned into the same failure. The workers that run keep serving.
- **The drain** (every Uvicorn server in a worker: Uvicorn's own and Gunicorn's UvicornWorker). Uvicorn's shutdown
  closes connections it accepted but has not read a request from yet: their clients get a reset. When there are
  connections, the worker first stops listening and waits ``DRAIN_SECONDS`` for their requests to arrive; Uvicorn's
  shutdown then lets every request in flight finish as usual.

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its command, its patches and its hook.
"""

import asyncio
import os

from . import patches, uvicorn_restart
from .connection import command
from .state import hooks, state

DRAIN_SECONDS = 0.2
GUARDED_STATUS = 1 << 8  # a wait status: exited with code 1


class _Guard:
    def __init__(self):
        self.arbiter = None  # Gunicorn's Arbiter, in the master
        self.on = False


_guard = _Guard()


@command("guard-boots")
def _guard_boots(message):
    """Turns the boot guard on. Says whether this master guards (a Gunicorn arbiter), loads the app itself (preload),
    or replaces Uvicorn's workers only once their successors are ready (rolling)."""
    arbiter = _guard.arbiter
    if not state.active("master") or arbiter is None:
        return {"t": "guard-boots", "guarding": False, "rolling": uvicorn_restart.available()}
    _guard.on = True
    return {"t": "guard-boots", "guarding": True, "preload": bool(getattr(arbiter.cfg, "preload_app", False)), "rolling": False}


def _guard_reaped(result):
    pid, status = result
    arbiter = _guard.arbiter
    if not _guard.on or arbiter is None or pid <= 0 or not state.active("master"):
        return result
    if pid not in getattr(arbiter, "WORKERS", {}) or not os.WIFEXITED(status):
        return result
    boot_errors = (getattr(arbiter, "WORKER_BOOT_ERROR", 3), getattr(arbiter, "APP_LOAD_ERROR", 4))
    code = os.WEXITSTATUS(status)
    if code not in boot_errors:
        return result
    if arbiter.num_workers > 1:
        arbiter.num_workers -= 1
    try:
        arbiter.log.warning(
            "Server Workers: worker (pid:%s) failed to boot (exit code %s); the server goes on with %s worker(s)",
            pid, code, arbiter.num_workers,
        )
    except Exception:
        pass
    return pid, GUARDED_STATUS


hooks.child_reaped.append(_guard_reaped)


def _remember_arbiter(original):
    """Remembers the master's Arbiter when it sets itself up (also on HUP)."""

    def setup(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if state.active("master"):
            _guard.arbiter = self
        return result

    return setup


def _drain_first(original):
    async def shutdown(self, *args, **kwargs):
        try:
            if state.active("worker") and getattr(self, "server_state", None) is not None and self.server_state.connections:
                for server in list(getattr(self, "servers", None) or []):
                    server.close()
                await asyncio.sleep(DRAIN_SECONDS)
        except Exception:
            pass
        return await original(self, *args, **kwargs)

    return shutdown


patches.add_patch("gunicorn.arbiter", lambda module: patches.patch_method(module.Arbiter, "setup", _remember_arbiter))
patches.add_patch("uvicorn.server", lambda module: patches.patch_method(module.Server, "shutdown", _drain_first))
