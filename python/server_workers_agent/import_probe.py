"""The app's import, checked before a reload that could not keep the old workers if it failed (docs/agent-protocol.md,
"Reload").

This process is the *reaper*: a child subreaper that forks the *importer*, which imports the app the way the servers
do and says so itself, on a pipe, once the import has returned and the app's attribute is there. Only that counts as
a pass: an importer that exits first (``os._exit(0)``, ``sys.exit(...)`` is caught and reported as its traceback),
is killed by a signal, or has not finished within the time allowed is a failure, with its exit code, its signal, or
where it was waiting (its stack, dumped by faulthandler just before the time is up). Its output (the last 64 KiB) is
kept for the report, not shown. Then the reaper ends the importer and every process it started: they stay below the
reaper even when their parent exits, since it is a subreaper. ``breakpoint()`` is skipped in the importer (the new
workers stop at it as usual): the check has no terminal, and pdb would read EOF and raise ``BdbQuit``.

Run as a script by the supervisor (``python import_probe.py MODULE:ATTR SECONDS SUPERVISOR_PID``: one JSON line on
stdout; SIGTERM, or the supervisor's death, ends it and all it started), or called by the agent's import_check in a
fork of a warm master. Stdlib only, Python 3.9+; it imports nothing of the agent but ``descendants.py``.
"""

import importlib
import json
import os
import select
import signal
import sys
import time
import traceback

MAX_OUTPUT_BYTES = 64 * 1024
MAX_TRACEBACK_CHARS = 256 * 1024
# The importer dumps its stack this long before the time is up, and the reaper waits this long after it for the dump.
STACK_DUMP_SECONDS = 0.5
END_DEADLINE_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _descendants_module():
    if __package__:
        from . import descendants

        return descendants
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "descendants.py")
    spec = importlib.util.spec_from_file_location("_server_workers_descendants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_descendants = _descendants_module()


def _prctl(option, value):
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


def stay_with(parent):
    """SIGTERM to this process when ``parent`` (the thread that started it) ends; false when it is gone already."""
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    return os.getppid() == parent


def probe(app, seconds, close_in_importer=()):
    """Imports ``app`` ("module:attribute") in a child and reports: {"ok": true} or {"ok": false, "traceback" | "exit" |
    "timedOut", "output"}; "breakpoints": the breakpoint() calls skipped. Leaves no process behind."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _reset_signal_handlers()
    signal.signal(signal.SIGTERM, _end_on_sigterm)
    result_read, result_write = os.pipe()
    output_read, output_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for fd in (result_read, output_read, *close_in_importer):
                os.close(fd)
            _import_and_say(app, seconds, result_write, output_write)
        finally:
            os._exit(0)
    os.close(result_write)
    os.close(output_write)
    try:
        return _watch(app, pid, result_read, output_read, seconds)
    finally:
        end_everything()
        os.close(result_read)
        os.close(output_read)


def _import_and_say(app, seconds, result_write, output_write):
    """In the importer: the import, then its result on the pipe (never returns)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_write, 1)
    os.dup2(output_write, 2)
    skipped = []

    def skip_breakpoint(*args, **kwargs):
        frame = sys._getframe(1)
        skipped.append("%s:%d" % (frame.f_code.co_filename, frame.f_lineno))

    sys.breakpointhook = skip_breakpoint
    try:
        import faulthandler

        faulthandler.dump_traceback_later(max(0.1, seconds - STACK_DUMP_SECONDS), file=output_write)
    except Exception:
        pass
    try:
        if os.getcwd() not in sys.path[:1]:
            sys.path.insert(0, os.getcwd())  # the servers import the app with their folder first
        importlib.invalidate_caches()
        module_name, attribute = app.split(":", 1)
        module = importlib.import_module(module_name)
        name = attribute.split("(", 1)[0].split(".", 1)[0].strip()
        if not hasattr(module, name):
            raise AttributeError("module %r has no attribute %r" % (module_name, name))
        result = {"ok": True}
    except BaseException:  # SystemExit and KeyboardInterrupt too: the import did not complete
        result = {"ok": False, "traceback": traceback.format_exc()[-MAX_TRACEBACK_CHARS:]}
    result["breakpoints"] = skipped[:10]
    data = (json.dumps(result) + "\n").encode("utf-8")
    while data:
        data = data[os.write(result_write, data):]
    os._exit(0)


def _watch(app, pid, result_read, output_read, seconds):
    """In the reaper: the importer's result and output until it has said its result, exited, or run out of time."""
    deadline = time.monotonic() + seconds
    result, output, status, exited_at = b"", bytearray(), None, 0.0
    open_fds = [result_read, output_read]
    while True:
        if status is None:
            waited, wait_status = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                status, exited_at = wait_status, time.monotonic()
        ready = select.select(open_fds, [], [], 0 if status is not None else 0.05)[0] if open_fds else []
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == result_read:
                result += chunk
            else:
                output += chunk
                del output[:-MAX_OUTPUT_BYTES]
        if b"\n" in result:
            report = json.loads(result.split(b"\n", 1)[0].decode("utf-8", "replace"))
            break
        if status is not None and (not ready or time.monotonic() - exited_at > 0.2):  # what it wrote last, not a child's flood
            report = {"ok": False, "exit": describe_exit(status)}
            break
        if time.monotonic() > deadline + STACK_DUMP_SECONDS:
            report = {"ok": False, "timedOut": True}
            break
    if not report.get("ok"):
        report["output"] = output.decode("utf-8", "replace")
    return report


def describe_exit(status):
    """How a process ended, from its wait status: "exited with code 3", "was killed by SIGKILL"."""
    if os.WIFSIGNALED(status):
        try:
            return "was killed by %s" % signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            return "was killed by signal %d" % os.WTERMSIG(status)
    return "exited with code %d" % os.WEXITSTATUS(status)


def end_everything():
    """SIGKILL to every descendant of this process until none is left, each reaped."""
    deadline = time.monotonic() + END_DEADLINE_SECONDS
    while True:
        _descendants.signal_descendants(signal.SIGKILL)
        _reap_children()
        if not _descendants.descendants() or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _reap_children():
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _end_on_sigterm(number, frame):
    end_everything()
    os._exit(128 + signal.SIGTERM)


def _reset_signal_handlers():
    """A fork of a server's master keeps its handlers (Hypercorn's and Uvicorn's shutdown): here they do nothing."""
    for number in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD, signal.SIGWINCH):
        try:
            signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def main(argv):
    app, seconds, supervisor = argv[1], float(argv[2]), int(argv[3])
    if not stay_with(supervisor):
        return 1  # the supervisor is gone already
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        sys.path[0] = os.getcwd()  # this script's folder is the agent's, not the app's
    report = probe(app, seconds)
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
