"""The app's import check in a fork of the warm master (docs/agent-protocol.md, "Reload").

Before Hypercorn's reload (its SIGHUP stops every worker, and a new worker that cannot import the app stops the
server) and Granian's, the supervisor imports the app once: in a new interpreter that takes about as long as a
worker's boot. Once the master is warm and forks its workers (warm_fork), the ``import-check`` command imports the app
in a fork of the master instead, which has the libraries already. The fork is no worker: it is import_probe's reaper
(it forks the importer, which says itself that the import completed; anything else is a failure), writes nothing to
the server's output, reports on a pipe, ends everything the import started, and exits. A fork that has not reported
within the time allowed (``timeout``, and a few seconds more) is killed with all it started. The master never imports
the app itself.

Stdlib only, Python 3.9+, fail open: ``{"ran": false}`` sends the supervisor back to its own check.
"""

import json
import os
import select
import signal
import time

from . import descendants, import_probe, warm_fork
from .connection import command, send, start_daemon_thread
from .state import state

DEFAULT_TIMEOUT = 60.0  # seconds, when the supervisor does not say (its reload timeout)
# What the reaper may take beyond the check's own time: ending what the import started.
REAPER_GRACE_SECONDS = import_probe.END_DEADLINE_SECONDS + 2.0


@command("import-check")
def _import_check(message):
    app = message.get("app")
    if not isinstance(app, str) or ":" not in app or not warm_fork.forking() or not state.active("master"):
        return {"t": "import-check", "ran": False}
    timeout = message.get("timeout")
    seconds = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0 else DEFAULT_TIMEOUT
    start_daemon_thread("server-workers-import-check", _check_and_reply, message.get("id"), app, seconds)
    return None  # the thread replies


def _check_and_reply(request_id, app, seconds):
    try:
        reply = fork_import_check(app, seconds)
    except Exception as error:
        reply = {"ran": False, "error": "%s: %s" % (type(error).__name__, error)}
    send(dict({"id": request_id, "t": "import-check"}, **reply))


def fork_import_check(app, seconds):
    """forks.py knows a fork under a function of this name for no worker's."""
    read_end, write_end = os.pipe()
    master = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            # The master's exit (a stop) ends the check and all it started; else the fds it shares with the master
            # (a resource tracker's pipe) would keep the server's processes waiting for it.
            if not import_probe.stay_with(master):
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)  # nothing of the check is the server's output
            report = import_probe.probe(app, seconds, close_in_importer=(write_end,))
            data = json.dumps(report).encode("utf-8")
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    try:
        data = _read_all(read_end, time.monotonic() + seconds + REAPER_GRACE_SECONDS)
    finally:
        os.close(read_end)
        _end(pid)
    try:
        report = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        report = {"ok": False, "timedOut": True}  # the reaper itself did not report in time: what it ran is ended
    return dict(report, ran=True, ok=report.get("ok") is True, pid=pid)


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


def _end(pid):
    """The reaper and whatever is left below it, SIGKILLed; the reaper reaped without the master's waitpid wrapper:
    this child is none of the server's, and no exit of it is reported."""
    descendants.signal_descendants(signal.SIGKILL, root=pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        (state.original_waitpid or os.waitpid)(pid, 0)
    except OSError:
        pass
