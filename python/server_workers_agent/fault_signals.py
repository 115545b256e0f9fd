"""The signals faulthandler answers for the agent (docs/agent-protocol.md, "Stacks"), and who owns them.

- The stack signal (``SIGRTMIN + 6``): faulthandler dumps every thread into the worker's output from its C signal
  handler, with or without the GIL. Registered in a worker once its fd 2 is its data connection, if that signal has
  its default action; ``{"t": "stack-signal", "signal": N}`` tells the supervisor. The app may take it later (its own
  ``signal.signal``, or faulthandler's ``register`` / ``unregister`` for that number): then the agent says so,
  ``{"t": "stack-signal", "signal": N, "taken": true}``, and the supervisor never sends it (its handler would run
  instead of the dump, or its default action would kill the worker).
- The fatal-signal handler: after the server installed its own handlers (they become the ones faulthandler chains
  to), SIGABRT from Gunicorn's timeout and a crash in C code dump every thread into the worker's output. An app that
  called ``faulthandler.enable(file=...)`` keeps its file: SIGABRT also dumps there, from a Python-level handler that
  chains to the one the server installed (or to the default action).

Stdlib only, fail open.
"""

import faulthandler
import functools
import os
import signal

from .connection import send
from .state import PATCHED, hooks, state

STACK_SIGNAL_OFFSET = 6  # SIGRTMIN + 6: neither Gunicorn nor Uvicorn uses real-time signals
STDERR = 2


def stack_signal():
    try:
        number = signal.SIGRTMIN + STACK_SIGNAL_OFFSET
    except AttributeError:  # no real-time signals here
        return None
    return number if number <= signal.SIGRTMAX else None


class _Owners:
    def __init__(self):
        self.stack_signal = None  # the stack signal, once registered in this process
        self.taken = False  # the app took it since (the supervisor was told)
        self.fatal_handler = False  # faulthandler's fatal-signal handler installed in this process, to fd 2
        self.app_file = None  # (file, all_threads) of the app's faulthandler.enable(file=...), when not fd 2


_owners = _Owners()


def _forget_in_child():
    global _owners
    app_file = _owners.app_file  # faulthandler's settings are inherited across a fork; the app's file with them
    _owners = _Owners()
    _owners.app_file = app_file


def _register_stack_signal():
    """In a worker, once its fd 2 is its data connection: the stack signal dumps every thread there."""
    number = stack_signal()
    if number is None or signal.getsignal(number) != signal.SIG_DFL:
        return  # the app uses it: the supervisor will not send it
    faulthandler.register(number, file=STDERR, all_threads=True, chain=False)
    _owners.stack_signal = number
    send({"t": "stack-signal", "signal": int(number)})


def _stack_signal_used(signalnum):
    """The app set a handler of its own for ``signalnum`` (or reset it): if it is the stack signal, it is taken."""
    try:
        number = _owners.stack_signal
        if number is None or _owners.taken or int(signalnum) != number or not state.active("worker"):
            return
        _owners.taken = True
        send({"t": "stack-signal", "signal": int(number), "taken": True})
    except Exception:
        pass


def _file_descriptor(file):
    if file is None:
        return STDERR  # faulthandler's default: sys.stderr
    if isinstance(file, int):
        return file
    try:
        return file.fileno()
    except Exception:
        return None


def _enabled_by_app(file, all_threads):
    """The app enabled faulthandler: its file is remembered; ours stays the fatal handler once installed."""
    if _file_descriptor(file) != STDERR:
        _owners.app_file = (file, all_threads)
    if _owners.fatal_handler:
        _chain_app_file()
        _enable_ours()
        return True
    return False


def _dump_on_fatal_signals():
    """After the server installed its signal handlers: SIGABRT from Gunicorn's timeout, and a crash in C code, dump
    every thread into the worker's output before it dies (and into the app's own faulthandler file at SIGABRT)."""
    if _owners.fatal_handler or not (state.active("worker") or state.active("master")):
        return
    _owners.fatal_handler = True
    _chain_app_file()
    _enable_ours()


def _enable_ours():
    if faulthandler.is_enabled():
        faulthandler.disable()  # enabled before the server's handlers (or by the app): re-enable so that it chains to them
    _ORIGINAL["enable"](file=STDERR, all_threads=True)


def _chain_app_file():
    """SIGABRT, once faulthandler dumped into the worker's output, reaches a Python-level handler that dumps into the
    app's file too, then runs the handler the server installed (Gunicorn's ``handle_abort``), or the default action.
    Set before faulthandler is enabled: ``signal.signal`` replaces the C handler of its signal."""
    if _owners.app_file is None:
        return
    current = signal.getsignal(signal.SIGABRT)
    if current is None or getattr(current, PATCHED, False):
        return  # a handler not set from Python: left as it is

    def dump_to_app_file(signum, frame):
        app = _owners.app_file
        if app is not None:
            try:
                faulthandler.dump_traceback(file=app[0], all_threads=app[1])
            except Exception:
                pass
        if callable(current):
            return current(signum, frame)
        if current == signal.SIG_IGN:
            return None
        _ORIGINAL["signal"](signal.SIGABRT, signal.SIG_DFL)
        faulthandler.disable()  # it dumped already
        os.kill(os.getpid(), signal.SIGABRT)
        return None

    setattr(dump_to_app_file, PATCHED, True)
    _ORIGINAL["signal"](signal.SIGABRT, dump_to_app_file)


# ---------------------------------------------------------------------------------------------------------------------
# The app's calls that change these signals' owners


_ORIGINAL = {"signal": signal.signal, "enable": faulthandler.enable}


def _wrap(module, name, before=None, after=None):
    original = getattr(module, name, None)
    if original is None or getattr(original, PATCHED, False):
        return

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if before is not None and before(*args, **kwargs):
            return None
        result = original(*args, **kwargs)
        if after is not None:
            after(*args, **kwargs)
        return result

    setattr(wrapper, PATCHED, True)
    setattr(module, name, wrapper)


def _app_enable(file=None, all_threads=True):
    try:
        return _enabled_by_app(file, all_threads)
    except Exception:
        return False


def _signal_number_used(signalnum, *args, **kwargs):
    _stack_signal_used(signalnum)


_wrap(signal, "signal", after=_signal_number_used)
_wrap(faulthandler, "register", after=_signal_number_used)
_wrap(faulthandler, "unregister", after=_signal_number_used)
_wrap(faulthandler, "enable", before=_app_enable)

hooks.in_forked_child.append(_forget_in_child)
hooks.worker_started.append(_register_stack_signal)
hooks.app_loaded.append(_dump_on_fatal_signals)
