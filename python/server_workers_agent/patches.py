"""The readiness patches: Gunicorn's ``Worker.load_wsgi``, Uvicorn's ``Server.startup`` and ``Config.load``, wrapped
when their module is imported (by a finder first on ``sys.meta_path``), or at once if it already is."""

import functools
import sys

from . import readiness
from .state import PATCHED

def _patch_method(cls, name, wrap):
    """Replaces ``cls.name`` (its own, not an inherited one) with ``wrap(original)``, once."""
    original = cls.__dict__.get(name)
    if original is None or getattr(original, PATCHED, False):
        return
    patched = functools.wraps(original)(wrap(original))
    setattr(patched, PATCHED, True)
    setattr(cls, name, patched)


patch_method = _patch_method  # for the agent's other parts (boot_guard, warm_master)


def _patch_gunicorn_worker(module):
    def wrap(original):
        def load_wsgi(self, *args, **kwargs):
            readiness.boot_hold()
            result = original(self, *args, **kwargs)
            readiness.gunicorn_app_loaded(self, False)
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
                    readiness.send_ready()
            except Exception:
                pass
            return result

        return startup

    _patch_method(module.Server, "startup", wrap)


def _patch_uvicorn_config(module):
    """Uvicorn's workers import the app in ``Config.load``: the boot hold comes first."""

    def wrap(original):
        def load(self, *args, **kwargs):
            readiness.boot_hold()
            return original(self, *args, **kwargs)

        return load

    _patch_method(module.Config, "load", wrap)


_PATCHES = {
    "gunicorn.workers.base": _patch_gunicorn_worker,
    "uvicorn.server": _patch_uvicorn_server,
    "uvicorn.config": _patch_uvicorn_config,
}


def register(name, patch):
    """Adds ``patch(module)`` for the module ``name``, after the patches registered before it (other agent parts)."""
    previous = _PATCHES.get(name)
    if previous is None:
        _PATCHES[name] = patch
        return

    def both(module):
        previous(module)
        patch(module)

    _PATCHES[name] = both


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


def install_import_hook():
    if not any(isinstance(finder, _PatchFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchFinder())
    for name in _PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _apply_patch(name, module)
