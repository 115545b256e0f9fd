"""Debugging a worker (docs/agent-protocol.md, "Debugging"), for the Server Workers agent: the ``debug`` and ``boot``
commands, the boot hold, and what keeps a paused worker alive (for debugpy, and for pdb: see pdb_session).

debugpy runs inside the worker and listens on a Unix socket in the server's private runtime folder, for this user
only (debug_socket.py); the editor connects to it directly. No TCP port, no ptrace.

Stdlib only, Python 3.9+, fail open. Imported by the agent: it registers its commands and the boot hold.
"""

import os
import signal
import sys
import threading
import time

from . import debug_socket
from .connection import command, gunicorn_worker, send, start_daemon_thread
from .state import hooks, run_hooks, state

ENV_BOOT_HOLD = "SERVER_WORKERS_BOOT_HOLD"
BOOT_WAIT = 30.0  # seconds a held worker waits for the supervisor's boot message
DEBUG_CLIENT_WAIT = 120.0  # default seconds a worker held for a debugger waits for the client


class _Debug:
    """debugpy in this process: started once (at boot, or by the ``debug`` command), kept until the process exits."""

    def __init__(self):
        self.lock = threading.Lock()  # one listen at a time
        self.path = None  # the Unix socket where pydevd accepts the debugger's client, once it listens
        self.error = None  # why the last listen failed
        self.error_code = None  # "debugpy-missing" when that is why (the extension then offers to install it)
        self.listen_called = False  # debugpy.listen() ran (it works once per process, even when it failed)
        self.keeper = None  # the thread that notifies Gunicorn for a paused worker
        self.boot = None  # the supervisor's boot message
        self.boot_received = threading.Event()
        self.stop_requested = False  # SIGTERM or SIGINT came during the hold: it ends
        self.boot_done = False  # the hold began (or was not needed): once per process
        self.holding = False  # held at boot: waiting for the boot message or for the debugger's client
        self.hold_listened = threading.Event()  # the hold has listened, or will not: the debug command may go on


_debug = _Debug()


def _forget_in_child():
    global _debug
    _debug = _Debug()  # debugpy's state does not carry over to a fork


hooks.in_forked_child.append(_forget_in_child)


# ---------------------------------------------------------------------------------------------------------------------
# Commands


@command("boot")
def _boot_message(message):
    """The supervisor's answer to a held worker (SERVER_WORKERS_BOOT_HOLD=1); see boot_hold. No reply."""
    debug = _debug
    debug.boot = message
    debug.boot_received.set()
    return None


@command("debug")
def _debug_command(message):
    """Starts debugpy (once; later calls give the same socket) and replies ``{"t": "debug", "path", "pid", ...}``.

    It happens on a thread of its own, which sends the reply: a worker held at boot listens from its main thread.
    """
    start_daemon_thread("server-workers-debug", _debug_reply, message)
    return None


def _debug_reply(message):
    reply = {"id": message.get("id")}
    debugpy_path = message.get("debugpyPath")
    if _hold_expected():
        # The worker has not reached its boot hold yet. If the boot answer asks for the debugger, the hold listens
        # from the main thread (module-level code traced, server threads already there to be left alone): wait.
        _debug.hold_listened.wait(BOOT_WAIT + 30.0)
    path = _listen(debugpy_path if isinstance(debugpy_path, str) else None)
    if path is None:
        reply.update({"t": "error", "error": _debug.error or "debugpy did not start", "code": _debug.error_code})
    else:
        reply.update({"t": "debug", "path": path, "pid": os.getpid(), "connected": _client_connected()})
    send(reply)


# ---------------------------------------------------------------------------------------------------------------------
# Listening


class DebugpyMissing(debug_socket.DebugUnavailable):
    """Neither the interpreter nor the given path has debugpy."""


def _import_debugpy(path):
    """The interpreter's own debugpy, else the one in ``path`` (the Python Debugger extension's bundled copy)."""
    try:
        import debugpy

        return debugpy
    except ImportError:
        if not path:
            raise DebugpyMissing("debugpy is not installed in the Python interpreter %s" % sys.executable)
    if path not in sys.path:
        sys.path.append(path)  # last: the app's own packages keep precedence
    import debugpy

    return debugpy


def _listen(debugpy_path=None):
    """Makes debugpy listen on this worker's private socket, once per process. Its path, or None (see _debug.error)."""
    debug = _debug
    with debug.lock:
        if debug.path is None and not debug.listen_called:
            try:
                debugpy = _import_debugpy(debugpy_path)
                pydevd = debug_socket.checked_pydevd(debugpy)
                listener = debug_socket.PrivateListener.bind_at(debug_socket.private_socket_path(state.socket_path), pydevd)
                _untrace_server_threads()
                try:
                    debugpy.configure(subProcess=False)  # the worker's own subprocesses are not debugged
                except Exception:
                    pass
                debug.listen_called = True  # debugpy.listen works once per process, even when it fails
                debug.path = debug_socket.listen_privately(debugpy, listener)
                debug.error = None
                if threading.current_thread() is not threading.main_thread():
                    _trace_main_loop(debugpy)
                run_hooks(hooks.debugger_listens)
            except debug_socket.DebugUnavailable as error:
                debug.error = str(error)
                debug.error_code = "debugpy-missing" if isinstance(error, DebugpyMissing) else None
            except Exception as error:
                debug.error = "%s: %s" % (type(error).__name__, error)
        if debug.path is not None:
            start_keeper()
        return debug.path


def _trace_main_loop(debugpy):
    """debugpy.listen() from another thread does not reliably trace the main thread's running event loop (async
    handlers): have the loop itself call debug_this_thread(). The loop is found among live objects."""
    main = threading.main_thread().ident
    try:
        import asyncio
        import gc
    except ImportError:
        return
    for candidate in gc.get_objects():
        try:
            if (
                isinstance(candidate, asyncio.AbstractEventLoop)
                and getattr(candidate, "_thread_id", None) == main
                and candidate.is_running()
            ):
                candidate.call_soon_threadsafe(debugpy.debug_this_thread)
                return
        except Exception:
            continue


def _client_connected():
    debugpy = sys.modules.get("debugpy")
    try:
        return bool(debugpy is not None and _debug.path is not None and debugpy.is_client_connected())
    except Exception:
        return False


def _untrace_server_threads():
    """Server threads that must keep running while the debugger has the worker paused: neither traced nor suspended.

    Uvicorn's supervisor (0.30+) pings every worker through a pipe every 0.5 s and kills one that does not answer
    within 5 s; the answer comes from the worker's ``Process.always_pong`` thread. Marked before debugpy traces them.
    """
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__name__", "") == "always_pong":
            thread.pydev_do_not_trace = True
            thread.is_pydev_daemon_thread = True


# ---------------------------------------------------------------------------------------------------------------------
# Paused workers stay alive; held workers wait for their debugger


def start_keeper():
    """In a Gunicorn worker: Gunicorn kills a worker that has not notified it within its timeout, and a worker paused
    at a breakpoint cannot. While the worker is held at boot, a debugger's client is connected, or a ``hooks.paused``
    predicate holds (pdb), notify for it. One keeper per process, started by the first that needs it."""
    debug = _debug
    worker = gunicorn_worker()
    if debug.keeper is not None or worker is None or getattr(worker, "tmp", None) is None:
        return
    debug.keeper = start_daemon_thread("server-workers-debug-keeper", _keep_alive, worker, debug)


def _keep_alive(worker, debug):
    try:
        timeout = float(getattr(getattr(worker, "cfg", None), "timeout", 30) or 30)
    except (TypeError, ValueError):
        timeout = 30.0
    period = max(0.1, min(1.0, timeout / 4.0))
    while _debug is debug:  # a forked child gets a fresh state: this thread is not in it anyway
        if debug.holding or _client_connected() or _paused():
            try:
                worker.tmp.notify()
            except Exception:
                pass
        time.sleep(period)


def _paused():
    for paused in hooks.paused:
        try:
            if paused():
                return True
        except Exception:
            pass
    return False


def _wait_for_client(debugpy, seconds):
    """debugpy.wait_for_client(), given up after ``seconds``: returns once the client is attached and configured."""
    done = threading.Event()

    def cancel_later():
        if done.wait(seconds):
            return
        while not done.is_set():  # cancel() works only once wait_for_client has begun
            try:
                debugpy.wait_for_client.cancel()
                return
            except Exception:
                time.sleep(0.1)

    start_daemon_thread("server-workers-debug-timer", cancel_later)
    try:
        debugpy.wait_for_client()
    finally:
        done.set()


def _hold_expected():
    return (
        state.active("worker")
        and os.environ.get(ENV_BOOT_HOLD) == "1"
        and state.control is not None
        and not state.ready_sent
        and not _debug.hold_listened.is_set()
    )


_HOLD_SIGNALS = ("SIGTERM", "SIGINT")


def _catch_stop_signals(debug):
    """While the main thread is held: SIGTERM / SIGINT end the hold (then reach the server's own handlers, so that a
    stop during the hold is not delayed until its bounded waits run out). Returns what restores the handlers."""
    installed = {}

    def handler(signum, frame):
        debug.stop_requested = True
        debug.boot_received.set()
        debugpy = sys.modules.get("debugpy")
        if debugpy is not None:
            try:
                debugpy.wait_for_client.cancel()
            except Exception:
                pass
        previous = installed.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    if threading.current_thread() is threading.main_thread():
        for name in _HOLD_SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            try:
                installed[number] = signal.signal(number, handler)
            except (OSError, ValueError):
                pass

    def restore():
        for number, previous in installed.items():
            try:
                if signal.getsignal(number) is handler:
                    signal.signal(number, previous if previous is not None else signal.SIG_DFL)
            except (OSError, ValueError):
                pass

    return restore


def boot_hold():
    """Runs in a worker right before it imports the app (Gunicorn's ``load_wsgi``, Uvicorn's ``Config.load``).

    With SERVER_WORKERS_BOOT_HOLD=1, waits (at most BOOT_WAIT s) for the supervisor's ``boot`` message. When that
    says ``"debug": {...}``, debugpy listens (from the main thread, so that module-level code and the app's startup
    are traced) and the worker waits for the debugger's client (at most ``debug.timeout`` s), then boots: breakpoints
    in the app's import and startup hit. Once per worker; never raises.
    """
    try:
        debug = _debug
        if debug.boot_done or not state.active("worker") or os.environ.get(ENV_BOOT_HOLD) != "1":
            return
        debug.boot_done = True
        if state.control is None:
            return
        debug.holding = True
        start_keeper()
        restore_signals = _catch_stop_signals(debug)
        try:
            if not debug.boot_received.wait(BOOT_WAIT) or debug.stop_requested:
                return
            options = (debug.boot or {}).get("debug")
            if not isinstance(options, dict):
                return
            debugpy_path = options.get("debugpyPath")
            path = _listen(debugpy_path if isinstance(debugpy_path, str) else None)
            debug.hold_listened.set()
            if path is None:
                return  # the debug command reports the error; the worker boots without the debugger
            try:
                seconds = float(options.get("timeout", DEBUG_CLIENT_WAIT))
            except (TypeError, ValueError):
                seconds = DEBUG_CLIENT_WAIT
            if not debug.stop_requested:
                _wait_for_client(sys.modules["debugpy"], max(0.0, seconds))
        finally:
            debug.holding = False
            debug.hold_listened.set()
            restore_signals()
    except Exception:
        pass


hooks.before_app_import.append(boot_hold)
