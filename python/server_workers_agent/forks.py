"""Forks of the master and of workers: the parent's output is flushed before, and the child forgets the parent's role;
a fork of the master inside Gunicorn's ``Arbiter.spawn_worker``, or the agent's ``fork_warm_worker`` (Uvicorn's and
Hypercorn's workers forked from a warm master, see warm_fork), becomes a worker.

Whether a fork is the master's is decided in the child at the fork, from what the parent held when it forked (its
role and its pid, recorded right before the fork), never from ``getppid()``: the master is a child subreaper, so a
daemon that a worker double-forks (fork, setsid, fork, the middle exits) can see the master as its parent by the
time its hook runs, with ``spawn_worker`` still on its inherited stack."""

import os
import sys

from .state import hooks, run_hooks, state

# Gunicorn forks that are not workers, by the name of a function on the stack of the forking thread.
_NOT_WORKER_FORKS = frozenset(("reexec", "spawn_dirty_arbiter", "daemonize", "fork_import_check"))
_WARM_WORKER_FORK = "fork_warm_worker"  # the function warm_fork forks Uvicorn's and Hypercorn's workers under

_fork_hooks = []  # not empty once registered: a forked child inherits the registration and this list
_forking_pid = [0]  # the pid of the process that forked, set in it right before the fork: the child reads its copy


def register_fork_hooks():
    if not _fork_hooks and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _fork_hooks.append(True)


def flush_output():
    """What sys.stdout and sys.stderr hold goes out before a fork copies it, or before their fds change."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _before_fork():
    _forking_pid[0] = os.getpid()
    flush_output()


def _after_fork_in_child():
    """Runs in every process forked from the master or a worker, and from their forked descendants."""
    try:
        # The parent's state, as it forked: the master's own when the master forked (a process that forks again
        # reset its copy in its own hook, and a fork that ran no hook left the pid recorded before it stale).
        forked_by_master = state.role == "master" and state.pid == _forking_pid[0] == state.master_pid
        inherited = state.reset_in_child()
        if inherited is not None:
            inherited.abandon()  # else the supervisor would not see EOF when its owner exits
        if state.original_waitpid is not None:
            os.waitpid = state.original_waitpid
        if not forked_by_master:
            return
        is_worker, gunicorn_worker = _classify_fork(sys._getframe(1))
        if is_worker and hooks.become_worker is not None:
            run_hooks(hooks.worker_forked)
            hooks.become_worker(gunicorn_worker)
    except Exception:
        pass


def _classify_fork(frame):
    """(is a worker, Gunicorn Worker object or None) for a fork in the master, from the forking thread's stack."""
    spawn_frame = None
    while frame is not None:
        name = frame.f_code.co_name
        if name in _NOT_WORKER_FORKS:
            return False, None
        if name == _WARM_WORKER_FORK:
            return True, None
        if name == "spawn_worker" and spawn_frame is None:
            spawn_frame = frame
        frame = frame.f_back
    if spawn_frame is not None:
        return True, spawn_frame.f_locals.get("worker")
    # Gunicorn forks its workers in Arbiter.spawn_worker only; Uvicorn and Hypercorn spawn them (see start()). Granian
    # forks them from its main process, which forks nothing else.
    return state.server not in ("gunicorn", "uvicorn", "hypercorn"), None
