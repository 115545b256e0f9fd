"""Reloads that never halt the server, and workers that drain before they stop (docs/agent-protocol.md, "Reload").

- **The boot guard** (Gunicorn's master). Gunicorn halts the whole arbiter when a worker exits with its boot-error
  codes (3: the worker failed to boot, 4: the app failed to load), and respawns, in a loop, one that dies at boot any
  other way (``sys.exit("...")``, ``os._exit(n)``, a signal): a save that breaks the app's import would take the
  server down at the next reload or respawn. Once the supervisor sends ``guard-boots`` (when the server runs, so a
  first start that cannot import still fails at once), every worker Gunicorn spawns gets a pipe from the master, and
  writes a byte on it as it says ``ready``: a worker reaped with no byte died before it booted, whatever its exit
  code or signal. Such a worker (or one that exits with 3 or 4) is reported to the supervisor as it exited, Gunicorn
  is handed exit code 1 instead of 3 or 4, and ``num_workers`` goes down by one (never below 1) so that the worker is
  not respawned into the same failure; not when Gunicorn has more workers than its count (it stopped that one
  itself: ``worker remove``, TTOU). The workers that run keep serving. A ``SystemExit`` while a worker imports the
  app (``sys.exit("DATABASE_URL is not set")``) prints its traceback first, so the failure says where.
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
import functools
import os
import traceback

from . import import_probe, patches, uvicorn_restart
from .connection import command
from .state import PATCHED, hooks, state

DRAIN_SECONDS = 0.2
GUARDED_STATUS = 1 << 8  # a wait status: exited with code 1


class _Guard:
    def __init__(self):
        self.arbiter = None  # Gunicorn's Arbiter, in the master
        self.on = False
        self.read_ends = {}  # in the master: pid -> the read end of its boot pipe (a byte on it: it booted)
        self.forking = None  # in the master, while Gunicorn forks a worker: its boot pipe (read end, write end)
        self.write_end = None  # in a worker: its boot pipe's write end, until it says ready


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
    booted = _booted(_guard.read_ends.pop(pid, None))
    if pid not in getattr(arbiter, "WORKERS", {}):
        return result
    boot_errors = (getattr(arbiter, "WORKER_BOOT_ERROR", 3), getattr(arbiter, "APP_LOAD_ERROR", 4))
    boot_error = os.WIFEXITED(status) and os.WEXITSTATUS(status) in boot_errors
    if booted and not boot_error:
        return result
    if len(arbiter.WORKERS) > arbiter.num_workers:
        return (pid, GUARDED_STATUS) if boot_error else result  # Gunicorn stops it itself (worker remove, TTOU): no loss
    if arbiter.num_workers > 1:
        arbiter.num_workers -= 1
    try:
        arbiter.log.warning(
            "Server Workers: worker (pid:%s) failed to boot (it %s); the server goes on with %s worker(s)",
            pid, import_probe.describe_exit(status), arbiter.num_workers,
        )
    except Exception:
        pass
    return (pid, GUARDED_STATUS) if boot_error else result


def _booted(read_end):
    """Whether the worker wrote its byte before it went (no pipe: spawned before the guard was on, counted as booted)."""
    if read_end is None:
        return True
    try:
        os.set_blocking(read_end, False)
        return os.read(read_end, 1) != b""
    except OSError:
        return False  # nothing written, and a process it started still holds the write end
    finally:
        _close(read_end)


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _with_boot_pipe(original):
    """Gunicorn's ``Arbiter.spawn_worker``, once the guard is on: the worker it forks gets a pipe to say it booted."""

    def spawn_worker(self, *args, **kwargs):
        if not (_guard.on and state.active("master")):
            return original(self, *args, **kwargs)
        master = os.getpid()
        try:
            _guard.forking = os.pipe()
        except OSError:
            return original(self, *args, **kwargs)
        read_end, write_end = _guard.forking
        try:
            pid = original(self, *args, **kwargs)
        except BaseException:
            if os.getpid() == master:  # in the worker, this is its exit
                _guard.forking = None
                _close(read_end)
                _close(write_end)
            raise
        _guard.forking = None
        _close(write_end)
        _guard.read_ends[pid] = read_end
        return pid

    return spawn_worker


def _keep_own_boot_pipe():
    """In a worker Gunicorn just forked: its own pipe's write end stays, every read end the master held goes."""
    pipe, _guard.forking = _guard.forking, None
    for read_end in _guard.read_ends.values():
        _close(read_end)
    _guard.read_ends.clear()
    if pipe is not None:
        _close(pipe[0])
        _guard.write_end = pipe[1]


def _say_booted():
    write_end, _guard.write_end = _guard.write_end, None
    if write_end is not None:
        try:
            os.write(write_end, b"1")
        except OSError:
            pass
        _close(write_end)


hooks.child_reaped.append(_guard_reaped)
hooks.worker_forked.append(_keep_own_boot_pipe)
hooks.ready.append(_say_booted)


def _traceback_of_exit(original):
    """Wraps the function a worker imports the app with: a ``SystemExit`` raised by the app's import prints its
    traceback first (Python would print only its message), so that a refused reload names the file and line."""

    def load(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except SystemExit:
            try:
                if state.active("worker"):
                    traceback.print_exc()
            except Exception:
                pass
            raise

    return load


def _wrap_app_import(module, name):
    original = getattr(module, name, None)
    if original is not None and not getattr(original, PATCHED, False):
        wrapped = functools.wraps(original)(_traceback_of_exit(original))
        setattr(wrapped, PATCHED, True)
        setattr(module, name, wrapped)


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
patches.add_patch("gunicorn.arbiter", lambda module: patches.patch_method(module.Arbiter, "spawn_worker", _with_boot_pipe))
patches.add_patch("gunicorn.util", lambda module: _wrap_app_import(module, "import_app"))
patches.add_patch("uvicorn.importer", lambda module: _wrap_app_import(module, "import_from_string"))
patches.add_patch("hypercorn.asyncio.run", _watch_hypercorn_servers)
patches.add_patch("hypercorn.asyncio.worker_context", lambda module: patches.patch_method(module.WorkerContext, "__init__", _drain_before_terminated))
patches.add_patch("uvicorn.server", lambda module: patches.patch_method(module.Server, "shutdown", _drain_first))
