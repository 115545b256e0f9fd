"""The Server Workers agent: runs inside every Python process of a server that the extension starts.

The contract is docs/agent-protocol.md. In short:

- the process started with ``SERVER_WORKERS_ROLE=master`` takes the master role: a control connection to the
  supervisor, ``exit`` messages for every child it reaps (``os.waitpid`` wrapper), a watchdog that stops the server
  when the supervisor goes away, and a fork hook that turns Gunicorn's forked workers into workers;
- a worker (forked by Gunicorn's ``Arbiter.spawn_worker`` or by Granian's main process, or spawned by Uvicorn or
  Hypercorn with ``--multiprocessing-fork``) opens a data connection that becomes its fds 1 and 2, and a control
  connection for ``ready`` and commands;
- every other process does nothing.

Its parts: ``state`` (what this process knows), ``connection`` (hello, control messages, commands), ``master``,
``forks``, ``worker``, ``readiness`` and ``patches``; debugging a worker (the ``debug`` and ``boot`` commands, the boot
hold) is in ``debug`` and ``debug_socket``; request insight (the app's wrappers, the ``insight`` summaries) in
``insight``; stacks on demand and before a timeout kill in ``stacks``, the signals faulthandler answers (and who owns
them) in ``fault_signals``; pdb in a worker (``breakpoint()``) in
``pdb_hook`` and ``pdb_session``; reloads that never halt the server (the boot guard) and workers that drain before
they stop in ``boot_guard``, the master that imports the app's libraries for the next workers in ``warm_master``
(Uvicorn's and Hypercorn's next workers are then forked from it, in ``warm_fork``, and the app's import check before
Hypercorn's and Granian's reload runs in a fork of it, in ``import_check``), Uvicorn's SIGHUP replacing every worker at
once in ``uvicorn_restart``, Granian's too, each old worker stopped once its successor is ready, in
``granian_reload``.

Stdlib only, Python 3.9+. Fail open: whatever goes wrong, the process carries on as it would without the agent.
``sitecustomize.py`` calls :func:`start`.
"""

import importlib
import os
import sys

from . import master, worker
from .state import ENV_MASTER_PID, ENV_ROLE, ENV_SERVER, ENV_SOCKET, ENV_TOKEN, state


def _argv():
    argv = getattr(sys, "orig_argv", None)  # 3.10+
    if argv:
        return list(argv)
    try:
        with open("/proc/self/cmdline", "rb") as cmdline:
            return [arg.decode("utf-8", "replace") for arg in cmdline.read().split(b"\0") if arg]
    except OSError:
        return list(getattr(sys, "argv", []) or [])


def _int_env(name):
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return 0


def start():
    """Takes this process's role, if it has one. Never raises."""
    try:
        _start()
    except Exception:
        pass


def _start():
    path = os.environ.get(ENV_SOCKET)
    if not path or state.role is not None:
        return
    state.socket_path = path
    state.token = os.environ.get(ENV_TOKEN, "")
    state.server = os.environ.get(ENV_SERVER, "")
    if os.environ.get(ENV_ROLE) == "master":
        master.become_master()
        return
    master_pid = _int_env(ENV_MASTER_PID)
    if master_pid <= 0 or os.getppid() != master_pid:
        return  # not a child of the master: a worker's subprocess, or unrelated
    state.master_pid = master_pid
    # A Gunicorn master re-exec'd by USR2 (GUNICORN_PID set) lands here too and takes no role: it and its workers
    # run as without the agent.
    if "--multiprocessing-fork" in _argv():
        worker.become_worker()  # Uvicorn spawns its workers (so does multiprocessing's "spawn" in general)




# Debugging, request insight, stacks, pdb in a worker (breakpoint()) and the reload parts (the boot guard and the
# drain, the warm master, Uvicorn's restart) register their commands, patches and hooks when imported; a failure to
# import one leaves the rest of the agent working.
for _part in ("debug", "insight", "fault_signals", "stacks", "pdb_hook", "boot_guard", "warm_master", "import_check", "uvicorn_restart", "granian_reload"):
    try:
        importlib.import_module("." + _part, __name__)
    except Exception:
        pass
