"""Reloads that never halt the server, and workers that drain before they stop (docs/agent-protocol.md, "Reload").

- **The boot guard** (Gunicorn's master). Gunicorn halts the whole arbiter when a worker exits with its boot-error
  codes (3: the worker failed to boot, 4: the app failed to load): a save that breaks the app's import would take the
  server down at the next reload or respawn. Once the supervisor sends ``guard-boots`` (when the server runs, so a
  first start that cannot import still fails at once), a worker that exits with one of those codes is reported to the
  supervisor as it exited, and Gunicorn is handed exit code 1 instead; ``num_workers`` goes down by one (never below
  1) so that the worker is not respawned into the same failure. The workers that run keep serving.
- **The drain** (every Uvicorn server in a worker: Uvicorn's own and Gunicorn's UvicornWorker; Hypercorn's asyncio
  and uvloop workers). Their shutdown closes connections they accepted but have not read a request from yet: their
  clients get a reset. When there are connections, the worker first stops listening and waits ``DRAIN_SECONDS`` for
  their requests to arrive; the server's shutdown then lets every request in flight finish as usual. Hypercorn closes
  those connections when its worker context's ``terminated`` is set, before it closes its listening servers: the
  drain comes before that event, and the servers are those the worker started (``asyncio.start_server`` as its
  ``hypercorn.asyncio.run`` module sees it).

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


class _StartedServers:
    """Stands for ``asyncio`` in ``hypercorn.asyncio.run``: the same module, and it remembers the servers started."""

    def __init__(self, real):
        self._real = real
        self.servers = []

    async def start_server(self, *args, **kwargs):
        server = await self._real.start_server(*args, **kwargs)
        self.servers.append(server)
        return server

    def __getattr__(self, name):
        return getattr(self._real, name)


_hypercorn_asyncio = _StartedServers(asyncio)


class _DrainBeforeTerminated:
    """A Hypercorn worker context's ``terminated`` event: its listening servers close and connections get their
    requests in before it is set."""

    def __init__(self, event):
        self._event = event

    async def set(self):
        try:
            servers = list(_hypercorn_asyncio.servers) if state.active("worker") else []
            if servers:  # even with no connection yet: one accepted in this turn has no transport to count yet
                _stop_accepting(servers)
                await asyncio.sleep(DRAIN_SECONDS)
        except Exception:
            pass
        return await self._event.set()

    def __getattr__(self, name):
        return getattr(self._event, name)


def _stop_accepting(servers):
    """Stops accepting connections but leaves the listening sockets open until the server closes them: a connection
    accepted in this turn still gets its transport (on a closed asyncio server it fails to attach, and is reset).
    A loop that did not register the socket as a reader (uvloop) closes the server instead."""
    loop = asyncio.get_running_loop()
    for server in servers:
        try:
            stopped = all([loop.remove_reader(sock.fileno()) for sock in server.sockets or ()])
        except Exception:
            stopped = False
        if not stopped:
            server.close()


def _drain_before_terminated(original):
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        try:
            if state.active("worker") and not isinstance(self.terminated, _DrainBeforeTerminated):
                self.terminated = _DrainBeforeTerminated(self.terminated)
        except Exception:
            pass

    return __init__


def _watch_hypercorn_servers(module):
    if getattr(module, "asyncio", None) is asyncio:
        module.asyncio = _hypercorn_asyncio


patches.add_patch("gunicorn.arbiter", lambda module: patches.patch_method(module.Arbiter, "setup", _remember_arbiter))
patches.add_patch("hypercorn.asyncio.run", _watch_hypercorn_servers)
patches.add_patch("hypercorn.asyncio.worker_context", lambda module: patches.patch_method(module.WorkerContext, "__init__", _drain_before_terminated))
patches.add_patch("uvicorn.server", lambda module: patches.patch_method(module.Server, "shutdown", _drain_first))
