"""The master's role: its control connection is its lifeline (a watchdog stops the server when the supervisor goes
away), and it reports every child it reaps (an ``os.waitpid`` wrapper)."""

import functools
import os
import signal
import sys
import time

from . import descendants, forks, patches
from .connection import open_control, send, start_daemon_thread
from .state import ENV_MASTER_PID, ENV_ROLE, ENV_WATCH_PID, PATCHED, hooks, run_hooks, state

KILL_GRACE = 5.0  # seconds between the watchdog's SIGTERM and its SIGKILL
WALK_INTERVAL = 0.1  # while the server stops, its tree is walked this often for descendants to end
WATCH_INTERVAL = 1.0  # the fallback watchdog's polling period


def become_master():
    # First of all, so that no descendant ever takes the role, whatever fails below.
    os.environ.pop(ENV_ROLE, None)
    os.environ[ENV_MASTER_PID] = str(os.getpid())
    state.role = "master"
    state.pid = state.master_pid = os.getpid()
    _wrap_waitpid()
    forks.register_fork_hooks()
    patches.install_import_hook()
    try:
        open_control("master", on_eof=_supervisor_gone)
    except Exception:
        _start_pid_watch()
    run_hooks(hooks.role_taken)


def _supervisor_gone():
    if state.active("master"):
        _stop_server()


def _stop_server():
    """SIGTERM to the process group when this process leads it (else to itself) and to every descendant outside it
    (a process in a session of its own, one its parent left behind), SIGKILL to all of them KILL_GRACE s later, or
    to the descendants left when this process exits first."""
    pid = os.getpid()
    leads_group = os.getpgrp() == pid

    def kill(sig):
        try:
            if leads_group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except OSError:
            pass

    descendants.end_all_at_exit()
    outside = pid if leads_group else None
    signalled = set()
    descendants.signal_descendants(signal.SIGTERM, outside_group=outside, skip=signalled)
    kill(signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE
    while time.monotonic() < deadline:
        time.sleep(WALK_INTERVAL)
        descendants.signal_descendants(signal.SIGTERM, outside_group=outside, skip=signalled)
    descendants.signal_descendants(signal.SIGKILL)
    kill(signal.SIGKILL)


def _start_pid_watch():
    try:
        watched = int(os.environ.get(ENV_WATCH_PID, ""))
    except ValueError:
        return
    if watched > 0 and watched != os.getpid():
        start_daemon_thread("server-workers-watchdog", _watch_pid, watched)


def _watch_pid(watched):
    while _pid_alive(watched):
        time.sleep(WATCH_INTERVAL)
    if state.active("master"):
        _stop_server()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists
    try:  # a zombie is gone too (Linux; elsewhere assume alive)
        with open("/proc/%d/stat" % pid, "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _wrap_waitpid():
    original = os.waitpid
    if getattr(original, PATCHED, False):
        return

    def waitpid(*args, **kwargs):
        result = original(*args, **kwargs)
        try:
            _report_reaped(result)
        except Exception:
            pass
        while _hidden_from_caller(result, args, sys._getframe(1)):
            result = original(*args, **kwargs)
            try:
                _report_reaped(result)
            except Exception:
                pass
        return _after_reap(result)

    functools.update_wrapper(waitpid, original)
    setattr(waitpid, PATCHED, True)
    state.original_waitpid = original
    os.waitpid = waitpid


def _after_reap(result):
    """What the server is handed for a reaped child: the hooks of other parts may change it (the boot guard)."""
    for hook in hooks.child_reaped:
        try:
            result = hook(result)
        except Exception:
            pass
    return result


def _hidden_from_caller(result, args, caller):
    """A process the master adopted (it is a child subreaper) that Gunicorn before 27 would take for a worker: its
    ``reap_workers`` logs any child's exit code and halts the server on a worker's boot-error codes (3, 4). Gunicorn 27
    reaps such a child and goes on; the wrapper does the same for the older ones. Never raises."""
    try:
        pid = result[0]
        if pid <= 0 or not args or args[0] != -1 or caller.f_code.co_name != "reap_workers":
            return False
        arbiter = caller.f_locals.get("self")
        workers = getattr(arbiter, "WORKERS", None)
        if not isinstance(workers, dict) or pid in workers:
            return False
        return pid not in (getattr(arbiter, "reexec_pid", 0), getattr(arbiter, "dirty_arbiter_pid", 0))
    except Exception:
        return False


def _report_reaped(result):
    if not state.active("master"):
        return
    pid, status = result
    if pid <= 0:
        return
    if os.WIFEXITED(status):
        code, name = os.WEXITSTATUS(status), None
    elif os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            code, name = None, signal.Signals(number).name
        except ValueError:
            code, name = None, str(number)
    else:
        return  # stopped or continued: not an exit
    send({"t": "exit", "pid": pid, "code": code, "signal": name})
