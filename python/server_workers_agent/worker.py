"""A worker's role: its fds 1 and 2 become its data connection (every byte it writes, its subprocesses' too), and a
control connection carries ``ready`` and the supervisor's commands."""

import os
import sys

from . import forks, patches, readiness
from .connection import connect, open_control
from .state import hooks, run_hooks, state


def become_worker(worker=None):
    state.role = "worker"
    state.pid = os.getpid()
    state.worker = worker
    try:
        _redirect_output()
    except Exception:
        pass  # the output stays where it was
    try:
        open_control("worker")
    except Exception:
        state.control = None
    try:
        forks.register_fork_hooks()  # a spawned worker's own forks must not keep its control connection
        if worker is not None:
            readiness.watch_load_wsgi(worker)
        patches.install_import_hook()
    except Exception:
        pass
    run_hooks(hooks.worker_started)
    run_hooks(hooks.role_taken)


def _redirect_output():
    sock = connect("data", "worker")
    try:
        forks.flush_output()
        os.dup2(sock.fileno(), 1)  # inheritable: the worker's subprocesses write here too
        os.dup2(sock.fileno(), 2)
    finally:
        sock.close()
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except Exception:
        pass


hooks.become_worker = become_worker
