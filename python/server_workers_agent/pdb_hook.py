"""pdb in a worker (docs/agent-protocol.md, "pdb"): where ``breakpoint()`` goes. The session itself (pdb over a
connection of its own to the supervisor) is pdb_session, imported at the first ``breakpoint()``: pdb is not cheap to
import, and most processes never need it.

- The hook is installed when this process takes its role (a worker, or the master: Uvicorn with one worker serves
  from it), unless ``PYTHONBREAKPOINT`` says otherwise: ``0`` (no pause) or a hook of the user's own, which Python's
  default ``sys.breakpointhook`` then runs as usual.
- With a debugpy client attached to this process, ``breakpoint()`` goes to debugpy, as it would without the agent.
- Else the calling thread stops in the agent's pdb (pdb_session); when the supervisor cannot be reached, Python's
  own hook runs (fail open).

Stdlib only, Python 3.9+.
"""

import os
import sys
import threading

from .state import PATCHED, hooks, state

ENV_BREAKPOINT = "PYTHONBREAKPOINT"
# PYTHONBREAKPOINT values that mean Python's default, pdb.set_trace: the agent's pdb takes them.
_DEFAULT_HOOKS = ("", "pdb.set_trace")

_sessions = {}  # thread ident -> pdb_session.Session of that thread, in this process
_sessions_lock = threading.Lock()
_debugpy_hook = [None]  # sys.breakpointhook as debugpy (pydevd) set it when it started listening


def install():
    """Makes breakpoint() open the agent's pdb in this process, unless PYTHONBREAKPOINT or another hook says otherwise."""
    if os.environ.get(ENV_BREAKPOINT, "") not in _DEFAULT_HOOKS:
        return  # "0", or the user's own hook: Python's default hook honours it
    current = sys.breakpointhook
    if getattr(current, PATCHED, False) or current is not sys.__breakpointhook__:
        return  # ours already (inherited across a fork), or someone else's
    sys.breakpointhook = _breakpointhook


def _reclaim_from_debugpy():
    """debugpy replaces sys.breakpointhook when it starts listening: keep its hook for when a client is attached."""
    current = sys.breakpointhook
    if getattr(current, PATCHED, False) or os.environ.get(ENV_BREAKPOINT, "") not in _DEFAULT_HOOKS:
        return
    _debugpy_hook[0] = current
    sys.breakpointhook = _breakpointhook


def _breakpointhook(*args, **kwargs):
    caller = sys._getframe(1)
    try:
        route = _route()
    except Exception:
        route = "python"
    if route == "off":
        return None
    if route == "debugpy":
        if _debugpy_hook[0] is not None:
            return _debugpy_hook[0](*args, **kwargs)
        return sys.modules["debugpy"].breakpoint()
    if route == "pdb":
        session = _session_for_this_thread()
        if session is not None:
            session.enter(caller, kwargs.get("header"))
            return None
    return sys.__breakpointhook__(*args, **kwargs)


setattr(_breakpointhook, PATCHED, True)


def _route():
    """Where this breakpoint() goes: "off", "debugpy", "pdb" (the agent's), or "python" (Python's own hook)."""
    hook_name = os.environ.get(ENV_BREAKPOINT, "")
    if hook_name == "0":
        return "off"
    if hook_name not in _DEFAULT_HOOKS:
        return "python"  # set after the agent started: Python's hook imports and runs it
    if _debugpy_client_connected():
        return "debugpy"
    if state.active("worker") or state.active("master"):
        return "pdb"
    return "python"


def _debugpy_client_connected():
    debugpy = sys.modules.get("debugpy")
    try:
        return bool(debugpy is not None and debugpy.is_client_connected())
    except Exception:
        return False


def _session_for_this_thread():
    """This thread's session (one that continued with breakpoints set stops again in the same terminal), or a new
    one; None when the supervisor cannot be reached."""
    ident = threading.get_ident()
    with _sessions_lock:
        session = _sessions.get(ident)
    if session is not None and not session.ended:
        return session
    try:
        from . import pdb_session

        session = pdb_session.Session(state.role, on_end=_forget)
    except Exception:
        return None
    with _sessions_lock:
        _sessions[ident] = session
    _start_keeper()
    return session


def _forget(session):
    with _sessions_lock:
        if _sessions.get(session.thread.ident) is session:
            del _sessions[session.thread.ident]


def _start_keeper():
    try:
        from . import debug

        debug.start_keeper()
    except Exception:
        pass  # no keeper: a Gunicorn worker in pdb lives as long as its timeout


def _any_paused():
    with _sessions_lock:
        return any(session.paused for session in _sessions.values())


def _forget_in_child():
    with _sessions_lock:
        _sessions.clear()  # the parent's sessions and connections are not this process's


hooks.role_taken.append(install)
hooks.debugger_listens.append(_reclaim_from_debugpy)
hooks.paused.append(_any_paused)
hooks.in_forked_child.append(_forget_in_child)
