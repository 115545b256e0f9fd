"""When a worker can serve (``ready``), and the moment right before it imports the app."""

import functools

from .connection import send
from .state import hooks, run_hooks, state


def send_ready():
    if not (state.active("worker") or state.active("master")):
        return
    with state.ready_lock:
        if state.ready_sent:
            return
        state.ready_sent = True
    run_hooks(hooks.ready)
    send({"t": "ready"})


def is_uvicorn_worker_class(worker):
    return type(worker).__module__.startswith("uvicorn")


def gunicorn_app_loaded(worker, from_instance):
    """After a Gunicorn worker's load_wsgi returned."""
    try:
        if not state.active("worker"):
            return
        if state.worker is None:
            state.worker = worker
        if state.instance_load_wsgi and not from_instance:
            return  # the instance's wrapper reports once the outermost load_wsgi returns
        if not is_uvicorn_worker_class(worker):  # those serve Uvicorn's Config.load app: wrapped there
            _wrap_gunicorn_app(worker)
            send_ready()  # the others are ready when Uvicorn's startup is done
        app_loaded()
    except Exception:
        pass


def _wrap_gunicorn_app(worker):
    """Gunicorn's ``asgi`` worker serves ``worker.asgi``, its WSGI workers ``worker.wsgi``."""
    for attribute, interface in (("asgi", "asgi"), ("wsgi", "wsgi")):
        app = getattr(worker, attribute, None)
        if callable(app):
            setattr(worker, attribute, wrapped_app(app, interface))
            return


def wrapped_app(app, interface):
    """The app as the agent's other parts wrap it (request insight); the app itself when none does. Never raises."""
    for wrap in hooks.wrap_app:
        try:
            app = wrap(app, interface)
        except Exception:
            pass
    return app


def app_loaded():
    """Right after the server loaded the app (its signal handlers are installed by then). Never raises."""
    for hook in hooks.app_loaded:
        try:
            hook()
        except Exception:
            pass


def watch_load_wsgi(worker):
    """Wraps the worker's own load_wsgi: the patched base method misses classes that override it (``asgi``)."""
    if is_uvicorn_worker_class(worker):
        return
    bound = getattr(worker, "load_wsgi", None)
    if bound is None:
        return

    @functools.wraps(bound)
    def load_wsgi(*args, **kwargs):
        boot_hold()
        result = bound(*args, **kwargs)
        gunicorn_app_loaded(worker, True)
        return result

    worker.load_wsgi = load_wsgi
    state.instance_load_wsgi = True


def boot_hold():
    """Right before a worker imports the app: what the agent's other parts do then (the debugger's boot hold). Never
    raises."""
    for hook in hooks.before_app_import:
        try:
            hook()
        except Exception:
            pass
