"""The debugger's private socket: how a worker's debugger is reachable by the server's user and nobody else.

``debugpy.listen(("127.0.0.1", 0))`` opens a TCP port that any local user can connect to (debugpy has no client
authentication) and, to learn its adapter's endpoints, accepts a loopback connection that another user can answer
first. Instead, debugpy's debugger (pydevd) speaks the Debug Adapter Protocol itself (``in_process_debug_adapter``:
no adapter process, no endpoint exchange) and listens on a Unix socket that this module makes:

- in the server's runtime folder, checked to be a directory of this user with mode 0700 (others cannot even reach
  the path), as ``dbg-<pid>.sock`` with mode 0600;
- handed to pydevd by replacing ``pydevd.create_server_socket`` (what its accept loop calls) for the one listen;
- every accepted peer checked with ``SO_PEERCRED``: a process of another uid is closed before any byte is read.

Stdlib only, Python 3.9+. Tested with debugpy 1.8.22 (this replaces a private pydevd function: keep it pinned).
"""

import atexit
import os
import signal
import socket
import stat
import struct
import sys

SOCKET_NAME = "dbg-%d.sock"
SUN_PATH_MAX = 107  # bytes of a Unix socket path (sun_path is 108 with its NUL)
SERVER_SOCKET_WAIT = 30.0  # seconds pydevd may take to start accepting on the socket handed to it
# The oldest debugpy with listen(..., in_process_debug_adapter=True) and pydevd's create_server_socket accept loop.
MIN_DEBUGPY = "1.6.4"
KNOWN_GOOD_DEBUGPY = "1.8.22"
_FATAL_BY_DEFAULT = frozenset(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT") if hasattr(signal, name))
_PATCHED = "_server_workers_patched"


class DebugUnavailable(Exception):
    """Why this worker cannot be debugged; the text goes to the user as it is."""


def checked_pydevd(debugpy):
    """debugpy's vendored pydevd, checked for what the private socket replaces in it."""
    version = getattr(debugpy, "__version__", "?")
    too_old = DebugUnavailable(
        "debugpy %s (in %s) is too old to debug a worker: Server Workers needs debugpy %s or later (its debugger "
        "must listen by itself, in_process_debug_adapter, to keep the connection private). Update it: "
        "%s -m pip install -U debugpy"
        % (version, os.path.dirname(getattr(debugpy, "__file__", None) or "?"), MIN_DEBUGPY, sys.executable)
    )
    try:
        import inspect

        if "in_process_debug_adapter" not in inspect.signature(debugpy.listen).parameters:
            raise too_old
        import debugpy.server.api as server_api

        pydevd = server_api.pydevd
        accept_loop = pydevd.PyDB._WaitForConnectionThread.run
    except (ImportError, AttributeError, TypeError, ValueError):
        raise too_old
    if not callable(getattr(pydevd, "create_server_socket", None)) or "create_server_socket" not in accept_loop.__code__.co_names:
        raise DebugUnavailable(
            "debugpy %s opens its debugger's socket in a way Server Workers does not know, so it cannot keep it "
            "private to you: the debugger does not start. debugpy %s is known to work: %s -m pip install debugpy==%s"
            % (version, KNOWN_GOOD_DEBUGPY, sys.executable, KNOWN_GOOD_DEBUGPY)
        )
    return pydevd


def private_socket_path(agent_socket_path):
    """``dbg-<pid>.sock`` in the folder of the agent's socket, once that folder is checked to be private to this user."""
    folder = os.path.dirname(agent_socket_path or "")
    try:
        info = os.lstat(folder)
    except OSError as error:
        raise DebugUnavailable("the server's runtime folder %r is not there (%s): restart the server" % (folder, error.strerror))
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or mode != 0o700:
        raise DebugUnavailable(
            "the server's runtime folder %s is not private to this user (it must be a directory owned by uid %d with "
            "mode 0700; it is owned by uid %d, mode %o), so a debugger there could be reached by others: it does not "
            "start. Restart the server." % (folder, os.geteuid(), info.st_uid, mode)
        )
    path = os.path.join(folder, SOCKET_NAME % os.getpid())
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise DebugUnavailable(
            "the debugger's socket path %s is longer than a Unix socket allows (%d bytes): start the editor with "
            "TMPDIR set to a shorter folder" % (path, SUN_PATH_MAX)
        )
    if not hasattr(socket, "SO_PEERCRED"):
        raise DebugUnavailable("debugging a worker needs Linux (SO_PEERCRED, to accept only this user's processes)")
    return path


def listen_privately(debugpy, listener):
    """``debugpy.listen(in_process_debug_adapter=True)`` with pydevd's listening socket replaced by ``listener``.

    The socket is made and bound beforehand (PrivateListener.bind_at): pydevd's listen waits for ever when making it
    fails. Returns the socket's path.
    """
    pydevd = listener.pydevd
    original = pydevd.create_server_socket
    handed_over = []

    def create_server_socket(host, port):
        handed_over.append(listener)
        return listener

    pydevd.create_server_socket = create_server_socket
    py_db = None
    try:
        debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)  # the address goes unused: see above
        py_db = pydevd.get_global_debugger()
        ready = getattr(py_db, "_server_socket_ready_event", None)
        if ready is not None:
            ready.wait(SERVER_SOCKET_WAIT)
    except BaseException:
        if not handed_over:
            listener.remove()
        raise
    finally:
        if handed_over:
            pydevd.create_server_socket = original  # else pydevd's thread has yet to call it: it must get ours
    name = getattr(py_db, "_server_socket_name", None)
    if not handed_over or name != (listener.path, 0):
        _stop_accepting(py_db)
        raise DebugUnavailable(
            "debugpy did not take the private socket %s (it listens on %r instead, now closed): the debugger does not "
            "start. debugpy %s is known to work: %s -m pip install debugpy==%s"
            % (listener.path, name, KNOWN_GOOD_DEBUGPY, sys.executable, KNOWN_GOOD_DEBUGPY)
        )
    _end_session_at_exit(listener)
    return listener.path


def _stop_accepting(py_db):
    """Closes whatever pydevd listens on (a blocked accept() wakes only on shutdown(), not on close())."""
    thread = getattr(py_db, "_waiting_for_connection_thread", None)
    server_socket = getattr(thread, "_server_socket", None)
    try:
        if server_socket is not None:
            server_socket.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.do_kill_pydev_thread()
    except Exception:
        pass


def _peer_credentials(connection):
    """(pid, uid) of the process at the other end of a Unix socket."""
    pid, uid, _gid = struct.unpack("iII", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("iII")))
    return pid, uid


class PrivateListener(socket.socket):
    """pydevd's server socket, as a Unix socket of mode 0600 in the private folder. Named ``(path, 0)`` (pydevd reads
    its name as (host, port)). Accepts only processes of this user: any other peer is closed unanswered."""

    @classmethod
    def bind_at(cls, path, pydevd):
        try:
            os.unlink(path)  # a stale one, from an earlier process with this pid
        except FileNotFoundError:
            pass
        listener = cls(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.path = path
        listener.pydevd = pydevd
        try:
            listener.bind(path)
            os.chmod(path, 0o600)
            listener.listen(1)
        except BaseException:
            listener.remove()
            raise
        return listener

    def getsockname(self):
        return (self.path, 0)

    def accept(self):
        while True:
            fd, _address = self._accept()
            connection = ClientConnection(self.family, self.type, self.proto, fileno=fd)
            connection.pydevd = self.pydevd
            try:
                pid, uid = _peer_credentials(connection)
            except OSError:
                pid, uid = 0, -1
            if uid == os.geteuid():
                return connection, self.path
            connection.close()
            _say("refused a debugger connection from uid %d (pid %d): only uid %d may debug this worker" % (uid, pid, os.geteuid()))

    def remove(self):
        self.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class ClientConnection(socket.socket):
    """An accepted debugger client. When it goes (EOF, or an error) without a DAP ``disconnect``, pydevd would keep
    the worker's threads suspended for good: this disconnects for it."""

    _gone = False

    def recv(self, *args):
        try:
            data = super().recv(*args)
        except OSError:
            self._client_gone()
            raise
        if not data:
            self._client_gone()
        return data

    def _client_gone(self):
        if self._gone:
            return
        self._gone = True
        try:
            py_db = self.pydevd.get_global_debugger()
            if py_db is not None and getattr(getattr(py_db, "reader", None), "sock", None) is self:
                self.pydevd.PyDevdAPI().request_disconnect(py_db, resume_threads=True)
        except Exception:
            pass
        try:
            self.shutdown(socket.SHUT_RDWR)  # pydevd keeps its side open: a client that only half-closed would wait
        except OSError:
            pass


def _end_session_at_exit(listener):
    """At exit: the socket file goes, and the client hears "terminated" (else the editor reports its debug adapter as
    crashed). pydevd says it from an atexit hook, but Uvicorn ends a worker it stopped gracefully by raising the
    signal again with its default action, so no atexit hook runs: ``signal.raise_signal`` says it first."""
    pid = os.getpid()
    inode = os.stat(listener.path).st_ino

    def remove_socket_file():
        try:
            if os.getpid() == pid and os.stat(listener.path).st_ino == inode:
                os.unlink(listener.path)
        except OSError:
            pass

    atexit.register(remove_socket_file)
    original = signal.raise_signal
    if getattr(original, _PATCHED, False):
        return

    def raise_signal(signum):
        try:
            if os.getpid() == pid and signum in _FATAL_BY_DEFAULT and signal.getsignal(signum) == signal.SIG_DFL:
                remove_socket_file()
                listener.pydevd.stoptrace()  # what pydevd's atexit hook does: "terminated", then its threads end
        except Exception:
            pass
        return original(signum)

    setattr(raise_signal, _PATCHED, True)
    signal.raise_signal = raise_signal


def _say(text):
    try:
        sys.stderr.write("Server Workers: %s\n" % text)
        sys.stderr.flush()
    except Exception:
        pass
