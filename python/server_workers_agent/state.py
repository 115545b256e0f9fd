"""What the agent knows in this process, and the names it shares with the supervisor (docs/agent-protocol.md)."""

import os
import threading

ENV_SOCKET = "SERVER_WORKERS_SOCKET"
ENV_TOKEN = "SERVER_WORKERS_TOKEN"
ENV_ROLE = "SERVER_WORKERS_ROLE"
ENV_SERVER = "SERVER_WORKERS_SERVER"
ENV_WATCH_PID = "SERVER_WORKERS_WATCH_PID"
ENV_MASTER_PID = "SERVER_WORKERS_MASTER_PID"

# Marks a function the agent has wrapped, so that it is never wrapped twice.
PATCHED = "_server_workers_patched"


class State:
    """The role this process took and its connection. A forked child inherits the object, not the role."""

    def __init__(self):
        self.socket_path = None
        self.token = ""
        self.server = ""
        self.master_pid = 0
        self.original_waitpid = None
        self._reset_role()

    def _reset_role(self):
        self.role = None  # None, "master" or "worker"
        self.pid = 0  # the pid that took the role
        self.control = None  # the ControlConnection of the role
        self.worker = None  # the Gunicorn Worker object, in a Gunicorn worker
        self.instance_load_wsgi = False  # the worker's own load_wsgi is wrapped (see readiness.watch_load_wsgi)
        self.ready_lock = threading.Lock()  # the parent's could have been held by another thread at the fork
        self.ready_sent = False

    def active(self, role):
        return self.role == role and self.pid == os.getpid()

    def reset_in_child(self):
        """In a forked child: the role and connection were the parent's. Returns the inherited connection."""
        inherited = self.control
        self._reset_role()
        run_hooks(hooks.in_forked_child)
        return inherited


class Hooks:
    """What other parts of the agent (debugging...) add to the agent's moments. Registered at import, never reset."""

    def __init__(self):
        self.before_app_import = []  # in a worker, right before it imports the app (the boot hold)
        self.in_forked_child = []  # in every child forked from the master or a worker, after the state's own reset
        self.become_worker = None  # a fork of the master that is a worker takes the role with this (worker.py sets it)
        self.worker_forked = []  # in a fork of the master that is a worker, before it takes the role
        self.worker_started = []  # in a worker, once its output and control connections are open
        self.app_loaded = []  # in a worker (or a master that serves), right after the server loaded the app
        self.ready = []  # in a worker (or a master that serves), once, as it says ready (the boot guard's pipe)
        # ``wrap(app, interface) -> app`` for the app a worker is about to serve; interface is "asgi" or "wsgi"
        self.wrap_app = []
        self.role_taken = []  # right after this process took the master or the worker role (pdb's breakpoint hook)
        self.paused = []  # predicates: true while this worker is paused (in pdb); the debugger's keeper keeps it alive
        self.debugger_listens = []  # after debugpy started listening in this process (it replaces sys.breakpointhook)
        self.child_reaped = []  # in the master: (pid, status) -> (pid, status) the server is handed (the boot guard)


def run_hooks(functions):
    """Calls each hook; one that fails does not stop the others. Never raises."""
    for function in functions:
        try:
            function()
        except Exception:
            pass


state = State()
hooks = Hooks()
