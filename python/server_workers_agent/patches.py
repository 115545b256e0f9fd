"""The readiness patches: Gunicorn's ``Worker.load_wsgi``, Uvicorn's ``Server.startup`` and ``Config.load``, Granian's
worker objects and ``load_target``, Hypercorn's logger and ``load_application``, wrapped
when their module is imported (by a finder first on ``sys.meta_path``), or at once if it already is."""

import functools
import sys

from . import readiness
from .state import PATCHED


def patch_method(cls, name, wrap):
    """Replaces ``cls.name`` (its own, not an inherited one) with ``wrap(original)``, once."""
    original = cls.__dict__.get(name)
    if original is None or getattr(original, PATCHED, False):
        return
    patched = functools.wraps(original)(wrap(original))
    setattr(patched, PATCHED, True)
    setattr(cls, name, patched)


def _patch_gunicorn_worker(module):
    def wrap(original):
        def load_wsgi(self, *args, **kwargs):
            readiness.boot_hold()
            result = original(self, *args, **kwargs)
            readiness.gunicorn_app_loaded(self, False)
            return result

        return load_wsgi

    patch_method(module.Worker, "load_wsgi", wrap)


def _patch_uvicorn_server(module):
    def wrap(original):
        async def startup(self, *args, **kwargs):
            result = await original(self, *args, **kwargs)
            try:
                # A worker, or a master that serves by itself (Uvicorn without --workers).
                if not getattr(self, "should_exit", False):
                    readiness.send_ready()
            except Exception:
                pass
            return result

        return startup

    patch_method(module.Server, "startup", wrap)


def _patch_uvicorn_config(module):
    """Uvicorn's workers import the app in ``Config.load``: the boot hold comes first, the app's wrappers after."""

    def wrap(original):
        def load(self, *args, **kwargs):
            readiness.boot_hold()
            result = original(self, *args, **kwargs)
            try:
                if getattr(self, "loaded_app", None) is not None:
                    self.loaded_app = readiness.wrapped_app(self.loaded_app, "asgi")
                readiness.app_loaded()
            except Exception:
                pass
            return result

        return load

    patch_method(module.Config, "load", wrap)


def _send_ready_quietly():
    try:
        readiness.send_ready()
    except Exception:
        pass


class _ReadyWhenServing:
    """Granian's worker object (a Rust type, which takes no new attributes): its ``serve_*`` methods start the worker's
    runtime on the socket the main process listens on, log ``Started worker-N`` and return; then the worker serves.
    Granian 2.5 (the last for Python 3.9) returns only when the worker stops: there an asyncio worker's ``serve_*`` runs
    the loop it is given once it serves (ready at the loop's first turn), and a WSGI worker's waits on its signal's
    event (``_ReadyOnWait``)."""

    def __init__(self, worker):
        self._worker = worker

    def __getattr__(self, name):
        attribute = getattr(self._worker, name)
        if not (name.startswith("serve") and callable(attribute)):
            return attribute

        def serve(*args, **kwargs):
            asyncio = sys.modules.get("asyncio")
            for arg in args:
                if asyncio is not None and isinstance(arg, asyncio.AbstractEventLoop):
                    arg.call_soon(_send_ready_quietly)
            result = attribute(*args, **kwargs)
            _send_ready_quietly()
            return result

        return serve


class _ReadyOnWait:
    """The event in Granian 2.5's ``WorkerSignalSync`` (a WSGI worker's stop signal): the worker's ``serve_*`` waits on
    it once it serves, until it is told to stop."""

    def __init__(self, event):
        self._event = event

    def wait(self, *args, **kwargs):
        _send_ready_quietly()
        return self._event.wait(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._event, name)


def _patch_granian_sync_signal(module):
    original = getattr(module, "WorkerSignalSync", None)
    if original is None or getattr(original, PATCHED, False):
        return

    def build(event, *args, **kwargs):
        return original(_ReadyOnWait(event), *args, **kwargs)

    setattr(build, PATCHED, True)
    module.WorkerSignalSync = build


def _patch_granian_workers(module):
    """Granian's worker functions build their worker by the module's names ``ASGIWorker``, ``RSGIWorker``,
    ``WSGIWorker``, then call one of its ``serve_*`` methods: those names build it wrapped."""
    for name in ("ASGIWorker", "RSGIWorker", "WSGIWorker"):
        original = getattr(module, name, None)
        if original is None or getattr(original, PATCHED, False):
            continue

        def build(*args, _original=original, **kwargs):
            return _ReadyWhenServing(_original(*args, **kwargs))

        setattr(build, PATCHED, True)
        setattr(module, name, build)


def _patch_hypercorn_logger(module):
    """A Hypercorn worker logs ``Running on …`` once its server listens on the socket (after the app's startup), with
    every worker class (asyncio, uvloop, trio)."""

    def wrap(original):
        async def info(self, message, *args, **kwargs):
            result = await original(self, message, *args, **kwargs)
            try:
                if isinstance(message, str) and message.startswith("Running on "):
                    readiness.send_ready()
            except Exception:
                pass
            return result

        return info

    patch_method(module.Logger, "info", wrap)


def _hold_before(module, name):
    """``module.name`` (a function that imports the app) runs the boot hold first. Replaced in the module that defines
    it, under its own name: modules that import it later get this one, and pickle (multiprocessing's spawn) finds it."""
    original = getattr(module, name, None)
    if original is None or getattr(original, PATCHED, False):
        return

    @functools.wraps(original)
    def load(*args, **kwargs):
        readiness.boot_hold()
        return original(*args, **kwargs)

    setattr(load, PATCHED, True)
    setattr(module, name, load)


_PATCHES = {
    "gunicorn.workers.base": _patch_gunicorn_worker,
    "uvicorn.server": _patch_uvicorn_server,
    "uvicorn.config": _patch_uvicorn_config,
    "granian._internal": lambda module: _hold_before(module, "load_target"),
    "granian.server.mp": _patch_granian_workers,
    "granian._signals": _patch_granian_sync_signal,
    "hypercorn.utils": lambda module: _hold_before(module, "load_application"),
    "hypercorn.logging": _patch_hypercorn_logger,
}


def add_patch(name, patch):
    """Another part of the agent patches module ``name`` (``patch(module)``) when it is imported, after the patches
    added before it; at once if it is imported already."""
    previous = _PATCHES.get(name)
    if previous is None:
        _PATCHES[name] = patch
    else:

        def both(module):
            previous(module)
            patch(module)

        _PATCHES[name] = both
    module = sys.modules.get(name)
    if module is not None and any(isinstance(finder, _PatchFinder) for finder in sys.meta_path):
        _apply_patch(name, module, patch)


def _apply_patch(name, module, patch=None):
    """Runs the patches of module ``name`` (or only ``patch``) on it; never raises."""
    try:
        (patch or _PATCHES[name])(module)
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


def install_import_hook():
    if not any(isinstance(finder, _PatchFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchFinder())
    for name in _PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _apply_patch(name, module)
