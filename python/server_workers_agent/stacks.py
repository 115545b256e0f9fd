"""Stacks on demand (docs/agent-protocol.md, "Stacks"), without ptrace or a debugger: every thread's Python stack and,
in an asyncio worker, every pending task's, in a gevent or eventlet worker every suspended greenlet's (greenlets),
written into the worker's own output (fd 2, its data connection).

- The ``stacks`` command: the control thread writes them (faulthandler for the threads, a walk of each task's
  coroutine chain for the tasks) and replies. It needs the GIL, which a worker in a tight Python loop or in
  ``time.sleep`` gives up, and one in C code holding it does not.
- A real-time signal (``stack-signal``, told to the supervisor once registered, and when the app takes it): faulthandler
  dumps every thread from its C signal handler, with or without the GIL. The supervisor sends it when the command
  gets no answer. Registered in fault_signals.
- Gunicorn sends SIGABRT to a worker that timed out: faulthandler's fatal-signal handler, installed after the
  worker's own signal handlers, dumps every thread, then the signal reaches the worker's handler as before (and the
  app's own faulthandler file: see fault_signals).
- Uvicorn's supervisor SIGKILLs a worker that fails its health check: the master's agent first says which worker it
  is about to kill (``hung``), and the supervisor sends that worker the stack signal if it is still the agent's.

Stdlib only, fail open.
"""

import faulthandler
import gc
import os
import sys
import time

from . import greenlets, patches
from .connection import command, send
from .fault_signals import STDERR
from .state import state

HUNG_DUMP_WAIT = 0.3  # seconds a hung Uvicorn worker gets to dump its stacks before its SIGKILL
_TASK_FRAMES_LIMIT = 100


# ---------------------------------------------------------------------------------------------------------------------
# The stacks command


@command("stacks")
def _stacks_command(message):
    """Writes every suspended greenlet's stack, every thread's and every pending asyncio task's into fd 2; replies how
    many tasks and greenlets. A command that
    arrives after its ``deadline`` (ms since the epoch: the supervisor has sent the signal instead) writes nothing."""
    deadline = message.get("deadline")
    if isinstance(deadline, (int, float)) and time.time() * 1000.0 > deadline:
        return {"t": "stacks", "late": True}
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    _write(_in_flight_text())
    objects = gc.get_objects() if "asyncio" in sys.modules or "greenlet" in sys.modules else []
    suspended = greenlets.suspended_greenlets(objects)
    _write(greenlets.greenlets_text(suspended))  # first: in a gevent worker, the requests wait there
    faulthandler.dump_traceback(file=STDERR, all_threads=True)
    tasks = _asyncio_tasks(objects)
    del objects
    _write(_tasks_text(tasks))
    return {"t": "stacks", "tasks": len(tasks), "greenlets": len(suspended)}


def _write(text):
    data = text.encode("utf-8", "replace")
    while data:
        written = os.write(STDERR, data)
        data = data[written:]


def _in_flight_text():
    from . import insight

    book = insight.current_book()
    if book is None:
        return ""
    now = time.time()
    lines = ["%s %s (%.1f s)" % (method, path, now - started_at) for method, path, started_at in book.in_flight_requests()]
    if not lines:
        return "Requests in flight: none\n"
    return "Requests in flight, oldest first:\n" + "".join("  %s\n" % line for line in lines)


def _asyncio_tasks(objects):
    """The pending tasks of every running event loop among ``objects`` (this process's live ones), by their loop's
    thread."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return []
    tasks = []
    for candidate in objects:
        try:
            if isinstance(candidate, asyncio.AbstractEventLoop) and candidate.is_running():
                thread = getattr(candidate, "_thread_id", None)
                tasks.extend((thread, task) for task in asyncio.all_tasks(candidate) if not task.done())
        except Exception:
            continue
    return tasks


def _coroutine_frames(task):
    """The frames of a task's coroutine and of what each awaits in turn, outermost first."""
    frames = []
    awaitable = task.get_coro()
    while awaitable is not None and len(frames) < _TASK_FRAMES_LIMIT:
        frame = None
        following = None
        for frame_name, await_name in (("cr_frame", "cr_await"), ("gi_frame", "gi_yieldfrom"), ("ag_frame", "ag_await")):
            if hasattr(awaitable, frame_name):
                frame = getattr(awaitable, frame_name)
                following = getattr(awaitable, await_name, None)
                break
        else:
            return frames, awaitable  # a future or another awaitable: what the innermost coroutine waits for
        if frame is not None:
            frames.append(frame)
        awaitable = following
    return frames, None


def _tasks_text(tasks):
    if not tasks:
        return ""
    lines = ["", "asyncio: %d pending task%s (most recent call first):" % (len(tasks), "" if len(tasks) == 1 else "s")]
    for thread, task in tasks:
        try:
            frames, waiting_for = _coroutine_frames(task)
            name = task.get_name() if hasattr(task, "get_name") else "task"
            awaiting = " awaiting %s" % _short(repr(waiting_for)) if waiting_for is not None else ""
            owner = " (loop of thread 0x%016x)" % thread if isinstance(thread, int) else ""
            lines.append("")
            lines.append("Task %s%s%s:" % (name, owner, awaiting))
            for frame in reversed(frames):
                code = frame.f_code
                lines.append('  File "%s", line %s in %s' % (code.co_filename, frame.f_lineno, code.co_name))
        except Exception:
            continue
    return "\n".join(lines) + "\n\n"


def _short(text, limit=160):
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------------------------------
# Uvicorn's health-check kill (the master's agent)


def _patch_uvicorn_multiprocess(module):
    """``Process.kill`` is what Uvicorn's supervisor calls for a worker that failed its health check (or a new one
    that never got ready): the supervisor is told which worker is killed as hung, and sends it the stack signal when
    the worker's own agent registered it and the app did not take it (the owner is checked where it is known); the
    worker gets a moment to dump."""

    def wrap(original):
        def kill(self, *args, **kwargs):
            try:
                _before_hung_kill(self)
            except Exception:
                pass
            return original(self, *args, **kwargs)

        return kill

    patches.patch_method(module.Process, "kill", wrap)


def _before_hung_kill(process):
    if not state.active("master"):
        return
    inner = getattr(process, "process", None)
    pid = getattr(inner, "pid", None)
    if not pid or inner.exitcode is not None:
        return  # it died by itself: nothing to dump
    if send({"t": "hung", "pid": pid}):
        time.sleep(HUNG_DUMP_WAIT)


patches.add_patch("uvicorn.supervisors.multiprocess", _patch_uvicorn_multiprocess)
