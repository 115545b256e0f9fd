"""The app's import check in a fork of the warm master (docs/agent-protocol.md, "Reload").

Before Hypercorn's reload (its SIGHUP stops every worker, and a new worker that cannot import the app stops the
server), the supervisor imports the app once: in a new interpreter that takes about as long as a worker's boot. Once
the master is warm and forks its workers (warm_fork), the ``import-check`` command imports the app in a fork of the
master instead, which has the libraries already. The fork is no worker: it writes nothing to the server's output,
reports its result on a pipe, and exits. The master never imports the app itself.

Stdlib only, Python 3.9+, fail open: ``{"ran": false}`` sends the supervisor back to its own check.
"""

import importlib
import json
import os
import select
import signal
import sys
import time
import traceback

from . import warm_fork
from .connection import command, send, start_daemon_thread
from .state import state

CHECK_TIMEOUT = 60.0
MAX_RESULT_BYTES = 256 * 1024


@command("import-check")
def _import_check(message):
    app = message.get("app")
    if not isinstance(app, str) or ":" not in app or not warm_fork.forking() or not state.active("master"):
        return {"t": "import-check", "ran": False}
    start_daemon_thread("server-workers-import-check", _check_and_reply, message.get("id"), app)
    return None  # the thread replies


def _check_and_reply(request_id, app):
    try:
        reply = fork_import_check(app)
    except Exception as error:
        reply = {"ran": False, "error": "%s: %s" % (type(error).__name__, error)}
    send(dict({"id": request_id, "t": "import-check"}, **reply))


def fork_import_check(app):
    """forks.py knows a fork under a function of this name for no worker's."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _import_in_child(app, write_end)  # never returns
    os.close(write_end)
    data = b""
    try:
        data = _read_all(read_end, time.monotonic() + CHECK_TIMEOUT)
    finally:
        os.close(read_end)
        _reap(pid, still_running=not data)
    if not data:
        return {"ran": False, "error": "the check's fork gave no result"}
    result = json.loads(data.decode("utf-8", "replace"))
    return {"ran": True, "ok": result.get("ok") is True, "traceback": result.get("traceback", ""), "pid": pid}


def _import_in_child(app, write_end):
    result = {"ok": False, "traceback": ""}
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # what the app prints at import is not the server's output
        os.dup2(devnull, 2)
        sys.path.insert(0, os.getcwd())
        importlib.invalidate_caches()
        module_name, attribute = app.split(":", 1)
        module = importlib.import_module(module_name)
        name = attribute.split("(", 1)[0].split(".", 1)[0].strip()
        if not hasattr(module, name):
            raise AttributeError("module %r has no attribute %r" % (module_name, name))
        result = {"ok": True}
    except BaseException:
        result = {"ok": False, "traceback": traceback.format_exc()[-MAX_RESULT_BYTES:]}
    finally:
        try:
            os.write(write_end, json.dumps(result).encode("utf-8"))
        finally:
            os._exit(0)


def _read_all(fd, deadline):
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b""
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return b""
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid, still_running):
    """Without the master's waitpid wrapper: this child is none of the server's, and no exit of it is reported."""
    try:
        if still_running:
            os.kill(pid, signal.SIGKILL)
        (state.original_waitpid or os.waitpid)(pid, 0)
    except OSError:
        pass
