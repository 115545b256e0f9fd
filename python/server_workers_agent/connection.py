"""The agent's connections to the supervisor: the hello, JSON lines on the control connection, and the commands the
supervisor sends (``{"id": K, "t": NAME, ...}`` -> ``{"id": K, "t": ..., ...}``)."""

import json
import os
import socket
import struct
import threading

from .state import state

CONNECT_TIMEOUT = 5.0  # seconds to connect and send the hello
CONTROL_SEND_TIMEOUT = 10.0  # a control message that cannot be sent in this time is dropped
# The longest line the supervisor sends that is read: pdb's input is at most 1 MiB of text (8 MiB covers its JSON,
# escapes included). A longer line is skipped as it arrives.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
RECV_BYTES = 65536


def connect(channel, role):
    """A connected Unix socket to the supervisor that has sent its hello line. Blocking mode."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(state.socket_path)
        hello = {
            "token": state.token,
            "channel": channel,
            "role": role,
            "pid": os.getpid(),
            "ppid": os.getppid(),
        }
        sock.sendall(_line(hello))
        sock.settimeout(None)  # back to blocking: clears O_NONBLOCK on the file description
    except BaseException:
        sock.close()
        raise
    return sock


def _line(message):
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")


class LineReader:
    """Splits a byte stream at b"\n" only, in time linear in its length, holding at most ``limit`` bytes of a line."""

    def __init__(self, limit):
        self.limit = limit
        self.pending = bytearray()
        self.skipped = 0  # bytes of a line over the limit so far (its head was dropped); 0 when none is being skipped

    def feed(self, chunk):
        """The lines that ``chunk`` completes: ``(line, 0)``, or ``(None, size)`` for a line over the limit."""
        lines = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            if self.skipped:
                lines.append((None, self.skipped + end - start))
                self.skipped = 0
            elif len(self.pending) + end - start > self.limit:
                lines.append((None, len(self.pending) + end - start))
                self.pending = bytearray()
            else:
                self.pending += chunk[start:end]
                lines.append((bytes(self.pending), 0))
                self.pending = bytearray()
            start = end + 1
        rest = len(chunk) - start
        if self.skipped:
            self.skipped += rest
        elif len(self.pending) + rest > self.limit:
            self.skipped = len(self.pending) + rest
            self.pending = bytearray()
        else:
            self.pending += chunk[start:]
        return lines


class ControlConnection:
    """JSON lines both ways. One lock serialises the senders (main thread, reader thread, ...)."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        self.broken = False
        try:  # a supervisor that stops reading must not freeze this process for ever
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(CONTROL_SEND_TIMEOUT), 0))
        except (OSError, struct.error, AttributeError):
            pass

    def send(self, message):
        """Sends one message; False when it could not be sent (the connection is then given up for sending)."""
        if self.broken:
            return False
        try:
            data = _line(message)
        except (TypeError, ValueError):
            return False
        # The timeout also keeps a signal handler that sends from the thread holding the lock from deadlocking.
        if not self.lock.acquire(timeout=CONTROL_SEND_TIMEOUT):
            return False
        try:
            if self.broken:
                return False
            self.sock.sendall(data)
            return True
        except OSError:
            self.broken = True  # maybe half a line went out: never send after it
            return False
        finally:
            self.lock.release()

    def messages(self, on_oversize=None):
        """Yields every JSON object the supervisor sends, until EOF or an error. Linear in what arrives: a line longer
        than MAX_MESSAGE_BYTES is skipped as it comes (never held whole), and ``on_oversize(size)`` is told."""
        reader = LineReader(MAX_MESSAGE_BYTES)
        while True:
            try:
                chunk = self.sock.recv(RECV_BYTES)
            except OSError:
                return
            if not chunk:
                return
            for raw, oversize in reader.feed(chunk):
                if oversize:
                    if on_oversize is not None:
                        on_oversize(oversize)
                    continue
                try:
                    message = json.loads(raw.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(message, dict):
                    yield message

    def abandon(self):
        """In a forked child: close the inherited fd without using the parent's locks or buffers."""
        try:
            os.close(self.sock.detach())
        except OSError:
            pass


def start_daemon_thread(name, target, *args):
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    # debugpy must neither trace these threads nor suspend them with the others.
    thread.pydev_do_not_trace = True
    thread.is_pydev_daemon_thread = True
    thread.start()
    return thread



COMMANDS = {}


def command(name):
    """Registers a handler: ``handler(message) -> reply dict`` (with its "t"), or None for no reply.

    Handlers run on the control connection's reader thread: one that takes long must start its own thread.
    """

    def register(handler):
        COMMANDS[name] = handler
        return handler

    return register


@command("ping")
def _ping(message):
    return {"t": "pong", "pid": os.getpid()}


def _dispatch(connection, message):
    name = message.get("t")
    handler = COMMANDS.get(name) if isinstance(name, str) else None
    if handler is None:
        reply = {"t": "error", "error": "unknown command: %r" % (name,)}
    else:
        try:
            reply = handler(message)
        except Exception as error:
            reply = {"t": "error", "error": "%s: %s" % (type(error).__name__, error)}
    if reply is None:
        return
    answer = {"id": message.get("id")}
    answer.update(reply)
    connection.send(answer)


def _read_commands(connection, on_eof):
    try:
        for message in connection.messages():
            try:
                _dispatch(connection, message)
            except Exception:
                pass
    except Exception:
        pass
    if on_eof is not None:
        on_eof()


def open_control(role, on_eof=None):
    connection = ControlConnection(connect("control", role))
    state.control = connection
    start_daemon_thread("server-workers-control", _read_commands, connection, on_eof)
    return connection


def send(message):
    """Sends a message on this process's control connection. False when there is none or it failed."""
    connection = state.control
    if connection is None or state.pid != os.getpid():
        return False
    return connection.send(message)


def gunicorn_worker():
    """The Gunicorn Worker object of this worker process (for ``worker.tmp.notify()``), or None."""
    return state.worker if state.active("worker") else None
