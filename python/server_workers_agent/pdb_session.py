"""pdb in a worker, the session (docs/agent-protocol.md, "pdb"): the thread that called ``breakpoint()`` stops in a
``pdb.Pdb`` whose stdin and stdout are a ``pdb`` connection to the supervisor. The thread waits for the supervisor's
lines while the worker's other threads run on (Uvicorn's health check answers) and the debugger's keeper (debug.py)
notifies Gunicorn for it; the other workers are other processes: they serve.

A session lasts while its Pdb may stop again (``c`` with breakpoints set keeps it: "running"), and ends on ``c``
without breakpoints, ``q``, EOF (Ctrl-D), or when the supervisor detaches it (its terminal was closed, the server
stops, the connection is gone): then the breakpoints are cleared and the thread continues.

Imported by pdb_hook at the first breakpoint(). Stdlib only, Python 3.9+.
"""

import os
import pdb
import queue
import signal
import socket
import sys
import threading

from .connection import MAX_MESSAGE_BYTES, ControlConnection, connect, start_daemon_thread

OUTPUT_CHUNK = 32 * 1024  # characters of pdb's output per message (the supervisor cuts lines at 1 MiB)
# Cmd's completion splits words at these (pdb's own set: it keeps '.', '!', '/' and '-' in the word).
_COMPLETER_DELIMS = " \t\n`@#$%^&*()=+[{]}\\|;:'\",<>?"


class Session:
    """One thread's Pdb and its connection to the supervisor."""

    def __init__(self, role, on_end):
        self.on_end = on_end
        self.connection = ControlConnection(connect("pdb", role))
        self.thread = threading.current_thread()
        self.inbox = queue.Queue()  # ("line", text) ("eof",) ("interrupt",) ("detach",) for the waiting thread
        self.lock = threading.Lock()
        self.waiting = False  # pdb waits for a line (its thread is blocked in readline)
        self.in_command = False  # pdb runs a command: an interrupt raises KeyboardInterrupt in its thread
        self.sigint_pending = None  # while pdb has the main thread: set when the SIGINT sent is ours
        self.paused = False  # from the first stop to the continue: the keeper notifies the server meanwhile
        self.detached = False
        self.ended = False
        self.pdb = _Pdb(self, stdin=_Input(self), stdout=_Output(self), nosigint=True)
        start_daemon_thread("server-workers-pdb", self._read)

    def send(self, message):
        return self.connection.send(message)

    def enter(self, frame, header):
        """breakpoint() in this session's thread: pdb stops at the next line of ``frame``, as pdb.set_trace does."""
        if header is not None:
            self.pdb.message(header)
        self.pdb.set_trace(frame)

    def stopped(self, frame):
        self.paused = True
        code = frame.f_code
        filename = code.co_filename
        if not (filename.startswith("<") and filename.endswith(">")):
            filename = os.path.abspath(filename)
        self.send({"t": "stop", "file": filename, "line": frame.f_lineno, "function": code.co_name, "thread": self.thread.name})

    def end(self, how):
        with self.lock:  # the reader thread (a detach) and pdb's thread may both end it
            if self.ended:
                return
            self.ended = True
        self.paused = False
        self.send({"t": "end", "how": how})
        try:
            self.connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread (close alone would not)
            self.connection.sock.close()
        except OSError:
            pass
        self.on_end(self)

    def _read(self):
        """The supervisor's messages, on a thread of their own: an interrupt or a detach reaches pdb while it runs."""
        try:
            for message in self.connection.messages(on_oversize=self._oversize):
                self._receive(message)
        except Exception:
            pass
        if not self.ended:
            self._detach()  # the supervisor is gone: nobody will type

    def _receive(self, message):
        kind = message.get("t")
        if kind == "input":
            text = message.get("text")
            if isinstance(text, str):
                for line in _lines(text):
                    self.inbox.put(("line", line))
        elif kind == "eof":
            self.inbox.put(("eof",))
        elif kind == "interrupt":
            self._interrupt()
        elif kind == "complete":
            self._complete(message)
        elif kind == "detach":
            self._detach()

    def _oversize(self, size):
        text = "*** Server Workers: a message of %d bytes for pdb was dropped (the limit is %d)\n" % (size, MAX_MESSAGE_BYTES)
        self.send({"t": "output", "text": text})

    def _detach(self):
        """The supervisor lets the thread go: at the prompt, pdb continues; running (``c`` with breakpoints set), the
        breakpoints go now and the session ends."""
        self.detached = True
        self.inbox.put(("detach",))
        if not self.paused and not self.ended:
            try:
                self.pdb.clear_all_breaks()
            except Exception:
                pass
            self.end("detached")

    def _interrupt(self):
        """Ctrl-C. At the prompt, pdb's readline raises KeyboardInterrupt. During a command in the main thread, a
        SIGINT to it (the command's own handler raises KeyboardInterrupt, and wakes a sleep or a blocking call);
        in another thread, KeyboardInterrupt is raised there (at its next bytecode: a blocking call finishes first)."""
        with self.lock:
            if self.waiting:
                self.inbox.put(("interrupt",))
            elif self.in_command:
                if self.sigint_pending is not None:
                    self.sigint_pending.set()
                    signal.pthread_kill(self.thread.ident, signal.SIGINT)
                else:
                    _raise_in_thread(self.thread.ident, KeyboardInterrupt)

    def _complete(self, message):
        line = message.get("line")
        matches, begin = [], 0
        if self.waiting and isinstance(line, str):
            try:
                matches, begin = _completions(self.pdb, line)
            except Exception:
                matches = []
        self.send({"id": message.get("id"), "t": "completions", "matches": matches, "begin": begin})


class _Pdb(pdb.Pdb):
    """pdb.Pdb that reports its stops and knows when its session ends."""

    def __init__(self, session, **kwargs):
        super().__init__(**kwargs)
        self._sw_session = session
        self._sw_continued = False
        self._sw_detaching = False

    def interaction(self, frame, traceback):
        session = self._sw_session
        if session.detached:
            self._sw_detach_now()
            return
        self._sw_continued = False
        session.stopped(frame if frame is not None else sys._getframe(1))
        how = "interrupted"  # an exception out of the prompt (SystemExit from a signal handler)
        restore_sigint = _sigint_interrupts(session)
        try:
            super().interaction(frame, traceback)
            how = self._sw_outcome()
        finally:
            restore_sigint()
            if how == "running":
                session.paused = False
                session.send({"t": "running"})
            elif how is not None:
                session.end(how)

    def _sw_outcome(self):
        """After pdb's prompt returned: None (stepping: it stops again soon), "running", or how the session ended."""
        if self._sw_detaching:
            return "detached"
        if self.quitting:
            return "quit"
        if self._sw_continued:
            return "running" if self.breaks else "continued"
        return None

    def _sw_detach_now(self):
        """Detached while running: the next stop does not prompt; the breakpoints go and the thread continues."""
        self._sw_detaching = True
        self.clear_all_breaks()
        self.set_continue()
        self._sw_session.end("detached")

    def set_continue(self):
        self._sw_continued = True
        super().set_continue()

    def trace_dispatch(self, frame, event, arg):
        if self._sw_session.ended:
            # Detached while it ran with breakpoints: only this thread can stop tracing itself, at its next event.
            sys.settrace(None)
            return None
        return super().trace_dispatch(frame, event, arg)

    def precmd(self, line):
        # A detach reaches pdb as a state of the session, never as text: no input line can stand for it.
        if self._sw_session.detached:
            self._sw_detaching = True
            self.clear_all_breaks()
            return "continue"
        return super().precmd(line)

    def onecmd(self, line):
        """Runs a command with sys.stdin and sys.stdout on the session for pdb's thread, as in a terminal: what it
        prints and what it asks with input() (``clear``'s "Clear all breaks?", ``interact``) go through pdb's
        connection. Other threads keep the process's streams."""
        session = self._sw_session
        saved = sys.stdin, sys.stdout
        routed = _ThreadStream(self.stdin, saved[0], session.thread), _ThreadStream(self.stdout, saved[1], session.thread)
        with session.lock:
            session.in_command = True
        try:
            sys.stdin, sys.stdout = routed
            return super().onecmd(line)
        finally:
            with session.lock:
                session.in_command = False
            if sys.stdin is routed[0] and sys.stdout is routed[1]:
                sys.stdin, sys.stdout = saved


class _Input:
    """pdb's stdin: each readline() waits for the supervisor's next line."""

    def __init__(self, session):
        self.session = session

    def readline(self, *args):
        session = self.session
        if session.detached:
            return "\n"  # pdb's loop (or an input() of a command) returns, and precmd continues: see _Pdb.precmd
        session.send({"t": "prompt", "prompt": session.pdb.prompt})
        with session.lock:
            session.waiting = True
        try:
            item = session.inbox.get()
        finally:
            with session.lock:
                session.waiting = False
        kind = item[0]
        if kind == "line":
            return item[1] if item[1].endswith("\n") else item[1] + "\n"
        if kind == "interrupt":
            raise KeyboardInterrupt
        if kind == "detach":
            return "\n"
        return ""  # EOF: pdb quits, as with Ctrl-D in a terminal

    def isatty(self):
        return False


class _Output:
    """pdb's stdout: what ends a line goes out at once, the rest (a prompt) on flush."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, session):
        self.session = session
        self.pending = []

    def write(self, text):
        if not isinstance(text, str):
            text = str(text)
        self.pending.append(text)
        if text.endswith("\n"):
            self.flush()
        return len(text)

    def flush(self):
        text = "".join(self.pending)
        self.pending = []
        for start in range(0, len(text), OUTPUT_CHUNK):
            self.session.send({"t": "output", "text": text[start:start + OUTPUT_CHUNK]})

    def isatty(self):
        return False

    def writable(self):
        return True


class _ThreadStream:
    """A stream that is the session's in pdb's thread and the process's own in every other."""

    def __init__(self, session_stream, original, thread):
        self._session_stream = session_stream
        self._original = original
        self._thread = thread

    def _stream(self):
        return self._session_stream if threading.current_thread() is self._thread else self._original

    def write(self, text):
        return self._stream().write(text)

    def readline(self, *args):
        return self._stream().readline(*args)

    def flush(self):
        stream = self._stream()
        if stream is not None:
            stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream(), name)


def _lines(text):
    """The lines of pdb's input, each with its b"\n": split at "\n" only (str.splitlines also splits at \u2028,
    \x0c, \x1c... which are text inside a line)."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def _completions(debugger, line):
    """What Cmd.complete would offer for the last word of ``line`` (readline's view of it, without readline): the
    matches and where that word begins in ``line``."""
    begin = max(line.rfind(delim) for delim in _COMPLETER_DELIMS) + 1
    text = line[begin:]
    stripped_line = line.lstrip()
    stripped = len(line) - len(stripped_line)
    begidx, endidx = begin - stripped, len(line) - stripped
    if begidx > 0:
        command, _args, _rest = debugger.parseline(stripped_line)
        complete = debugger.completedefault if not command else getattr(debugger, "complete_" + command, debugger.completedefault)
    else:
        complete = debugger.completenames
    matches = complete(text, stripped_line, begidx, endidx) or []
    return sorted(set(match for match in matches if isinstance(match, str))), begin


def _sigint_interrupts(session):
    """In the main thread, while pdb has it: a SIGINT the session sent raises KeyboardInterrupt in the command that
    runs; any other goes to the server's own handler. Held for the whole interaction, not per command, so that a
    late one never reaches the server's handler (Gunicorn's SIGINT is a quick exit). Returns what restores it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    pending = threading.Event()
    try:
        previous = signal.getsignal(signal.SIGINT)
    except (OSError, ValueError):
        return lambda: None

    def handler(signum, frame):
        if pending.is_set():
            pending.clear()
            if session.in_command:
                raise KeyboardInterrupt
            return None  # it came as the command ended: nothing left to interrupt
        if callable(previous):
            return previous(signum, frame)
        if previous == signal.SIG_DFL:
            raise KeyboardInterrupt
        return None  # SIG_IGN

    try:
        signal.signal(signal.SIGINT, handler)
    except (OSError, ValueError):
        return lambda: None
    session.sigint_pending = pending

    def restore():
        session.sigint_pending = None
        try:
            if signal.getsignal(signal.SIGINT) is handler:
                signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        except (OSError, ValueError):
            pass

    return restore


def _raise_in_thread(ident, exception):
    """KeyboardInterrupt in pdb's thread while it runs a command (Ctrl-C in its terminal)."""
    try:
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exception))
    except Exception:
        pass
