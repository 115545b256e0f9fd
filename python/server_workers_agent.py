"""The Server Workers agent: runs inside every Python process of a server that the extension starts.

The contract is docs/agent-protocol.md. In short:

- the process started with ``SERVER_WORKERS_ROLE=master`` takes the master role: a control connection to the
  supervisor, ``exit`` messages for every child it reaps (``os.waitpid`` wrapper), a watchdog that stops the server
  when the supervisor goes away, and a fork hook that turns Gunicorn's forked workers into workers;
- a worker (forked by Gunicorn's ``Arbiter.spawn_worker`` or by Granian's main process, or spawned by Uvicorn or
  Hypercorn with ``--multiprocessing-fork``) opens a data connection that becomes its fds 1 and 2, and a control
  connection for ``ready`` and commands;
- every other process does nothing.

Stdlib only, Python 3.9+. Fail open: whatever goes wrong, the process carries on as it would without the agent.
``sitecustomize.py`` calls :func:`start`.
"""

import functools
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

ENV_SOCKET = "SERVER_WORKERS_SOCKET"
ENV_TOKEN = "SERVER_WORKERS_TOKEN"
ENV_ROLE = "SERVER_WORKERS_ROLE"
ENV_SERVER = "SERVER_WORKERS_SERVER"
ENV_WATCH_PID = "SERVER_WORKERS_WATCH_PID"
ENV_MASTER_PID = "SERVER_WORKERS_MASTER_PID"
ENV_BOOT_HOLD = "SERVER_WORKERS_BOOT_HOLD"

CONNECT_TIMEOUT = 5.0  # seconds to connect and send the hello
CONTROL_SEND_TIMEOUT = 10.0  # a control message that cannot be sent in this time is dropped
KILL_GRACE = 5.0  # seconds between the watchdog's SIGTERM and its SIGKILL
WATCH_INTERVAL = 1.0  # the fallback watchdog's polling period
BOOT_WAIT = 30.0  # seconds a held worker waits for the supervisor's boot message
DEBUG_CLIENT_WAIT = 120.0  # default seconds a worker held for a debugger waits for the client

# Gunicorn forks that are not workers, by the name of a function on the stack of the forking thread.
_NOT_WORKER_FORKS = frozenset(("reexec", "spawn_dirty_arbiter", "daemonize"))
_PATCHED = "_server_workers_patched"


class _Debug:
    """debugpy in this process: started once (at boot, or by the ``debug`` command), kept until the process exits."""

    def __init__(self):
        self.lock = threading.Lock()  # one listen at a time
        self.endpoint = None  # (host, port) where debugpy's adapter accepts the client, once it listens
        self.error = None  # why the last listen failed
        self.keeper = None  # the thread that notifies Gunicorn for a paused worker
        self.boot = None  # the supervisor's boot message
        self.boot_received = threading.Event()
        self.stop_requested = False  # SIGTERM or SIGINT came during the hold: it ends
        self.boot_done = False  # the hold began (or was not needed): once per process
        self.holding = False  # held at boot: waiting for the boot message or for the debugger's client
        self.hold_listened = threading.Event()  # the hold has listened, or will not: the debug command may go on


class _State:
    """What the agent knows in this process. Reset in every forked child."""

    def __init__(self):
        self.socket_path = None
        self.token = ""
        self.server = ""
        self.role = None  # None, "master" or "worker"
        self.pid = 0  # the pid that took the role: a forked child inherits the object, not the role
        self.master_pid = 0
        self.control = None  # ControlConnection
        self.worker = None  # the Gunicorn Worker object, in a Gunicorn worker
        self.instance_load_wsgi = False  # the worker's own load_wsgi is wrapped (see _watch_load_wsgi)
        self.ready_lock = threading.Lock()
        self.ready_sent = False
        self.original_waitpid = None
        self.debug = _Debug()

    def active(self, role):
        return self.role == role and self.pid == os.getpid()


_state = _State()


# ---------------------------------------------------------------------------------------------------------------------
# Connections


def _connect(channel, role):
    """A connected Unix socket to the supervisor that has sent its hello line. Blocking mode."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(_state.socket_path)
        hello = {
            "token": _state.token,
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

    def messages(self):
        """Yields every JSON object the supervisor sends, until EOF or an error."""
        pending = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
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


def _start_daemon_thread(name, target, *args):
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    # debugpy must neither trace these threads nor suspend them with the others.
    thread.pydev_do_not_trace = True
    thread.is_pydev_daemon_thread = True
    thread.start()
    return thread


# ---------------------------------------------------------------------------------------------------------------------
# Commands from the supervisor: {"id": K, "t": NAME, ...} -> {"id": K, "t": ..., ...}

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


def _open_control(role, on_eof=None):
    connection = ControlConnection(_connect("control", role))
    _state.control = connection
    _start_daemon_thread("server-workers-control", _read_commands, connection, on_eof)
    return connection


def send(message):
    """Sends a message on this process's control connection. False when there is none or it failed."""
    connection = _state.control
    if connection is None or _state.pid != os.getpid():
        return False
    return connection.send(message)


def gunicorn_worker():
    """The Gunicorn Worker object of this worker process (for ``worker.tmp.notify()``), or None."""
    return _state.worker if _state.active("worker") else None


# ---------------------------------------------------------------------------------------------------------------------
# Master


def _become_master():
    # First of all, so that no descendant ever takes the role, whatever fails below.
    os.environ.pop(ENV_ROLE, None)
    os.environ[ENV_MASTER_PID] = str(os.getpid())
    _state.role = "master"
    _state.pid = _state.master_pid = os.getpid()
    _wrap_waitpid()
    _register_fork_hooks()
    _install_import_hook()
    try:
        _open_control("master", on_eof=_supervisor_gone)
    except Exception:
        _start_pid_watch()


def _supervisor_gone():
    if _state.active("master"):
        _stop_server()


def _stop_server():
    """SIGTERM to the process group when this process leads it (else to itself), SIGKILL KILL_GRACE s later."""
    pid = os.getpid()

    def kill(sig):
        try:
            if os.getpgrp() == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except OSError:
            pass

    kill(signal.SIGTERM)
    time.sleep(KILL_GRACE)
    kill(signal.SIGKILL)


def _start_pid_watch():
    try:
        watched = int(os.environ.get(ENV_WATCH_PID, ""))
    except ValueError:
        return
    if watched > 0 and watched != os.getpid():
        _start_daemon_thread("server-workers-watchdog", _watch_pid, watched)


def _watch_pid(watched):
    while _pid_alive(watched):
        time.sleep(WATCH_INTERVAL)
    if _state.active("master"):
        _stop_server()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists
    try:  # a zombie is gone too (Linux; elsewhere assume alive)
        with open("/proc/%d/stat" % pid, "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _wrap_waitpid():
    original = os.waitpid
    if getattr(original, _PATCHED, False):
        return

    def waitpid(*args, **kwargs):
        result = original(*args, **kwargs)
        try:
            _report_reaped(result)
        except Exception:
            pass
        return result

    functools.update_wrapper(waitpid, original)
    setattr(waitpid, _PATCHED, True)
    _state.original_waitpid = original
    os.waitpid = waitpid


def _report_reaped(result):
    if not _state.active("master"):
        return
    pid, status = result
    if pid <= 0:
        return
    if os.WIFEXITED(status):
        code, name = os.WEXITSTATUS(status), None
    elif os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            code, name = None, signal.Signals(number).name
        except ValueError:
            code, name = None, str(number)
    else:
        return  # stopped or continued: not an exit
    send({"t": "exit", "pid": pid, "code": code, "signal": name})


_fork_hooks = []  # not empty once registered: a forked child inherits the registration and this list


def _register_fork_hooks():
    if not _fork_hooks and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _fork_hooks.append(True)


def _before_fork():
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _after_fork_in_child():
    """Runs in every process forked from the master or a worker, and from their forked descendants."""
    try:
        inherited = _state.control
        _state.control = None
        _state.role = None
        _state.pid = 0
        _state.worker = None
        _state.instance_load_wsgi = False
        _state.ready_lock = threading.Lock()  # the parent's could have been held by another thread
        _state.ready_sent = False
        _state.debug = _Debug()  # debugpy's state does not carry over to a fork
        if inherited is not None:
            inherited.abandon()  # else the supervisor would not see EOF when its owner exits
        if _state.original_waitpid is not None:
            os.waitpid = _state.original_waitpid
        if os.getppid() != _state.master_pid:
            return
        is_worker, worker = _classify_fork(sys._getframe(1))
        if is_worker:
            _become_worker(worker)
    except Exception:
        pass


def _classify_fork(frame):
    """(is a worker, Gunicorn Worker object or None) for a fork in the master, from the forking thread's stack."""
    spawn_frame = None
    while frame is not None:
        name = frame.f_code.co_name
        if name in _NOT_WORKER_FORKS:
            return False, None
        if name == "spawn_worker" and spawn_frame is None:
            spawn_frame = frame
        frame = frame.f_back
    if spawn_frame is not None:
        return True, spawn_frame.f_locals.get("worker")
    # Gunicorn forks its workers in Arbiter.spawn_worker only; Uvicorn and Hypercorn spawn them (see start()). Granian
    # forks them from its main process, which forks nothing else.
    return _state.server not in ("gunicorn", "uvicorn", "hypercorn"), None


# ---------------------------------------------------------------------------------------------------------------------
# Worker


def _become_worker(worker=None):
    _state.role = "worker"
    _state.pid = os.getpid()
    _state.worker = worker
    try:
        _redirect_output()
    except Exception:
        pass  # the output stays where it was
    try:
        _open_control("worker")
    except Exception:
        _state.control = None
    try:
        _register_fork_hooks()  # a spawned worker's own forks must not keep its control connection
        if worker is not None:
            _watch_load_wsgi(worker)
        _install_import_hook()
    except Exception:
        pass


def _redirect_output():
    sock = _connect("data", "worker")
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:
                pass
        os.dup2(sock.fileno(), 1)  # inheritable: the worker's subprocesses write here too
        os.dup2(sock.fileno(), 2)
    finally:
        sock.close()
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except Exception:
        pass


def _send_ready():
    if not (_state.active("worker") or _state.active("master")):
        return
    with _state.ready_lock:
        if _state.ready_sent:
            return
        _state.ready_sent = True
    send({"t": "ready"})


def _is_uvicorn_worker_class(worker):
    return type(worker).__module__.startswith("uvicorn")


def _gunicorn_app_loaded(worker, from_instance):
    """After a Gunicorn worker's load_wsgi returned."""
    try:
        if not _state.active("worker"):
            return
        if _state.worker is None:
            _state.worker = worker
        if _state.instance_load_wsgi and not from_instance:
            return  # the instance's wrapper reports once the outermost load_wsgi returns
        if not _is_uvicorn_worker_class(worker):  # those are ready when Uvicorn's startup is done
            _send_ready()
    except Exception:
        pass


def _watch_load_wsgi(worker):
    """Wraps the worker's own load_wsgi: the patched base method misses classes that override it (``asgi``)."""
    if _is_uvicorn_worker_class(worker):
        return
    bound = getattr(worker, "load_wsgi", None)
    if bound is None:
        return

    @functools.wraps(bound)
    def load_wsgi(*args, **kwargs):
        _boot_hold()
        result = bound(*args, **kwargs)
        _gunicorn_app_loaded(worker, True)
        return result

    worker.load_wsgi = load_wsgi
    _state.instance_load_wsgi = True


# ---------------------------------------------------------------------------------------------------------------------
# Debugging (docs/agent-protocol.md, "Debugging"): debugpy listens on loopback in this worker, the editor connects
# to it directly. No ptrace.


@command("boot")
def _boot_message(message):
    """The supervisor's answer to a held worker (SERVER_WORKERS_BOOT_HOLD=1); see _boot_hold. No reply."""
    debug = _state.debug
    debug.boot = message
    debug.boot_received.set()
    return None


@command("debug")
def _debug_command(message):
    """Starts debugpy (once; later calls give the same endpoint) and replies ``{"t": "debug", "host", "port", ...}``.

    Listening takes a second (debugpy spawns its adapter): it happens on a thread of its own, which sends the reply.
    """
    _start_daemon_thread("server-workers-debug", _debug_reply, message)
    return None


def _debug_reply(message):
    reply = {"id": message.get("id")}
    path = message.get("debugpyPath")
    if _hold_expected():
        # The worker has not reached its boot hold yet. If the boot answer asks for the debugger, the hold listens
        # from the main thread (module-level code traced, server threads already there to be left alone): wait.
        _state.debug.hold_listened.wait(BOOT_WAIT + 30.0)
    endpoint = _listen(path if isinstance(path, str) else None)
    if endpoint is None:
        reply.update({"t": "error", "error": _state.debug.error or "debugpy did not start"})
    else:
        reply.update({
            "t": "debug",
            "host": endpoint[0],
            "port": endpoint[1],
            "pid": os.getpid(),
            "connected": _client_connected(),
        })
    send(reply)


def _import_debugpy(path):
    """The interpreter's own debugpy, else the one in ``path`` (the Python Debugger extension's bundled copy)."""
    try:
        import debugpy

        return debugpy
    except ImportError:
        if not path:
            raise ImportError("debugpy is not installed in the Python interpreter %s" % sys.executable)
    if path not in sys.path:
        sys.path.append(path)  # last: the app's own packages keep precedence
    import debugpy

    return debugpy


def _listen(debugpy_path=None):
    """Makes debugpy listen on a free loopback port, once per process. The endpoint, or None (see _state.debug.error)."""
    debug = _state.debug
    with debug.lock:
        if debug.endpoint is None:
            try:
                debugpy = _import_debugpy(debugpy_path)
                _untrace_server_threads()
                try:
                    debugpy.configure(subProcess=False)  # the worker's own subprocesses are not debugged
                except Exception:
                    pass
                host, port = debugpy.listen(("127.0.0.1", 0))
                debug.endpoint = (str(host), int(port))
                debug.error = None
                if threading.current_thread() is not threading.main_thread():
                    _trace_main_loop(debugpy)
            except Exception as error:
                debug.error = "%s: %s" % (type(error).__name__, error) if not isinstance(error, ImportError) else str(error)
        if debug.endpoint is not None:
            _start_keeper()
        return debug.endpoint


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
        return bool(debugpy is not None and _state.debug.endpoint is not None and debugpy.is_client_connected())
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


def _start_keeper():
    """In a Gunicorn worker: Gunicorn kills a worker that has not notified it within its timeout, and a worker paused
    at a breakpoint cannot. While the worker is held at boot or a debugger's client is connected, notify for it."""
    debug = _state.debug
    worker = _state.worker
    if debug.keeper is not None or worker is None or getattr(worker, "tmp", None) is None:
        return
    debug.keeper = _start_daemon_thread("server-workers-debug-keeper", _keep_alive, worker, debug)


def _keep_alive(worker, debug):
    try:
        timeout = float(getattr(getattr(worker, "cfg", None), "timeout", 30) or 30)
    except (TypeError, ValueError):
        timeout = 30.0
    period = max(0.1, min(1.0, timeout / 4.0))
    while _state.debug is debug:  # a forked child gets a fresh state: this thread is not in it anyway
        if debug.holding or _client_connected():
            try:
                worker.tmp.notify()
            except Exception:
                pass
        time.sleep(period)


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

    _start_daemon_thread("server-workers-debug-timer", cancel_later)
    try:
        debugpy.wait_for_client()
    finally:
        done.set()


def _hold_expected():
    return (
        _state.active("worker")
        and os.environ.get(ENV_BOOT_HOLD) == "1"
        and _state.control is not None
        and not _state.ready_sent
        and not _state.debug.hold_listened.is_set()
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


def _boot_hold():
    """Runs in a worker right before it imports the app (Gunicorn's ``load_wsgi``, Uvicorn's ``Config.load``).

    With SERVER_WORKERS_BOOT_HOLD=1, waits (at most BOOT_WAIT s) for the supervisor's ``boot`` message. When that
    says ``"debug": {...}``, debugpy listens (from the main thread, so that module-level code and the app's startup
    are traced) and the worker waits for the debugger's client (at most ``debug.timeout`` s), then boots: breakpoints
    in the app's import and startup hit. Once per worker; never raises.
    """
    try:
        debug = _state.debug
        if debug.boot_done or not _state.active("worker") or os.environ.get(ENV_BOOT_HOLD) != "1":
            return
        debug.boot_done = True
        if _state.control is None:
            return
        debug.holding = True
        _start_keeper()
        restore_signals = _catch_stop_signals(debug)
        try:
            if not debug.boot_received.wait(BOOT_WAIT) or debug.stop_requested:
                return
            options = (debug.boot or {}).get("debug")
            if not isinstance(options, dict):
                return
            path = options.get("debugpyPath")
            endpoint = _listen(path if isinstance(path, str) else None)
            debug.hold_listened.set()
            if endpoint is None:
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


# ---------------------------------------------------------------------------------------------------------------------
# Readiness patches, applied when the module is imported (or at once if it already is)


def _patch_method(cls, name, wrap):
    """Replaces ``cls.name`` (its own, not an inherited one) with ``wrap(original)``, once."""
    original = cls.__dict__.get(name)
    if original is None or getattr(original, _PATCHED, False):
        return
    patched = functools.wraps(original)(wrap(original))
    setattr(patched, _PATCHED, True)
    setattr(cls, name, patched)


def _patch_gunicorn_worker(module):
    def wrap(original):
        def load_wsgi(self, *args, **kwargs):
            _boot_hold()
            result = original(self, *args, **kwargs)
            _gunicorn_app_loaded(self, False)
            return result

        return load_wsgi

    _patch_method(module.Worker, "load_wsgi", wrap)


def _patch_uvicorn_server(module):
    def wrap(original):
        async def startup(self, *args, **kwargs):
            result = await original(self, *args, **kwargs)
            try:
                # A worker, or a master that serves by itself (Uvicorn without --workers).
                if not getattr(self, "should_exit", False):
                    _send_ready()
            except Exception:
                pass
            return result

        return startup

    _patch_method(module.Server, "startup", wrap)


def _patch_uvicorn_config(module):
    """Uvicorn's workers import the app in ``Config.load``: the boot hold comes first."""

    def wrap(original):
        def load(self, *args, **kwargs):
            _boot_hold()
            return original(self, *args, **kwargs)

        return load

    _patch_method(module.Config, "load", wrap)


class _ReadyWhenServing:
    """Granian's worker object (a Rust type, which takes no new attributes): its ``serve_*`` methods start the worker's
    runtime on the socket the main process listens on, log ``Started worker-N`` and return; then the worker serves."""

    def __init__(self, worker):
        self._worker = worker

    def __getattr__(self, name):
        attribute = getattr(self._worker, name)
        if not (name.startswith("serve") and callable(attribute)):
            return attribute

        def serve(*args, **kwargs):
            result = attribute(*args, **kwargs)
            try:
                _send_ready()
            except Exception:
                pass
            return result

        return serve


def _patch_granian_workers(module):
    """Granian's worker functions build their worker by the module's names ``ASGIWorker``, ``RSGIWorker``,
    ``WSGIWorker``, then call one of its ``serve_*`` methods: those names build it wrapped."""
    for name in ("ASGIWorker", "RSGIWorker", "WSGIWorker"):
        original = getattr(module, name, None)
        if original is None or getattr(original, _PATCHED, False):
            continue

        def build(*args, _original=original, **kwargs):
            return _ReadyWhenServing(_original(*args, **kwargs))

        setattr(build, _PATCHED, True)
        setattr(module, name, build)


def _patch_hypercorn_logger(module):
    """A Hypercorn worker logs ``Running on …`` once its server listens on the socket (after the app's startup), with
    every worker class (asyncio, uvloop, trio)."""

    def wrap(original):
        async def info(self, message, *args, **kwargs):
            result = await original(self, message, *args, **kwargs)
            try:
                if isinstance(message, str) and message.startswith("Running on "):
                    _send_ready()
            except Exception:
                pass
            return result

        return info

    _patch_method(module.Logger, "info", wrap)


def _hold_before(module, name):
    """``module.name`` (a function that imports the app) runs the boot hold first. Replaced in the module that defines
    it, under its own name: modules that import it later get this one, and pickle (multiprocessing's spawn) finds it."""
    original = getattr(module, name, None)
    if original is None or getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    def load(*args, **kwargs):
        _boot_hold()
        return original(*args, **kwargs)

    setattr(load, _PATCHED, True)
    setattr(module, name, load)


_PATCHES = {
    "gunicorn.workers.base": _patch_gunicorn_worker,
    "uvicorn.server": _patch_uvicorn_server,
    "uvicorn.config": _patch_uvicorn_config,
    "granian._internal": lambda module: _hold_before(module, "load_target"),
    "granian.server.mp": _patch_granian_workers,
    "hypercorn.utils": lambda module: _hold_before(module, "load_application"),
    "hypercorn.logging": _patch_hypercorn_logger,
}


def _apply_patch(name, module):
    try:
        _PATCHES[name](module)
    except Exception:
        pass


class _PatchingLoader:
    """Runs the real loader, then the patch. The module ends up with the real loader in its attributes."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        try:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        except Exception:
            pass
        self._loader.exec_module(module)
        _apply_patch(self._name, module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _PatchFinder:
    """First on sys.meta_path: finds the modules to patch with the other finders and wraps their loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _PATCHES:
            return None
        try:
            for finder in list(sys.meta_path):
                if isinstance(finder, _PatchFinder):
                    continue
                find_spec = getattr(finder, "find_spec", None)
                if find_spec is None:
                    continue
                spec = find_spec(fullname, path, target)
                if spec is None:
                    continue
                if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                    return None
                spec.loader = _PatchingLoader(spec.loader, fullname)
                return spec
        except Exception:
            pass
        return None  # the import system goes on as if this finder were not there

    def invalidate_caches(self):
        pass


def _install_import_hook():
    if not any(isinstance(finder, _PatchFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchFinder())
    for name in _PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _apply_patch(name, module)


# ---------------------------------------------------------------------------------------------------------------------
# Start


def _argv():
    argv = getattr(sys, "orig_argv", None)  # 3.10+
    if argv:
        return list(argv)
    try:
        with open("/proc/self/cmdline", "rb") as cmdline:
            return [arg.decode("utf-8", "replace") for arg in cmdline.read().split(b"\0") if arg]
    except OSError:
        return list(getattr(sys, "argv", []) or [])


def _int_env(name):
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return 0


def start():
    """Takes this process's role, if it has one. Never raises."""
    try:
        _start()
    except Exception:
        pass


def _start():
    path = os.environ.get(ENV_SOCKET)
    if not path or _state.role is not None:
        return
    _state.socket_path = path
    _state.token = os.environ.get(ENV_TOKEN, "")
    _state.server = os.environ.get(ENV_SERVER, "")
    if os.environ.get(ENV_ROLE) == "master":
        _become_master()
        return
    master_pid = _int_env(ENV_MASTER_PID)
    if master_pid <= 0 or os.getppid() != master_pid:
        return  # not a child of the master: a worker's subprocess, or unrelated
    _state.master_pid = master_pid
    # A Gunicorn master re-exec'd by USR2 (GUNICORN_PID set) lands here too and takes no role: it and its workers
    # run as without the agent.
    if "--multiprocessing-fork" in _argv():
        _become_worker()  # Uvicorn spawns its workers (so does multiprocessing's "spawn" in general)
