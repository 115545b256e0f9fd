"""Server Workers: starts the in-process agent when the extension runs this interpreter, then runs the
sitecustomize that this file shadows (Debian's, a virtualenv's, ...), as Python would have without it.

The agent (the package server_workers_agent, next to this file) does nothing unless SERVER_WORKERS_SOCKET is set, and never
raises. See docs/agent-protocol.md.
"""
import os as _os
import sys as _sys

if _os.environ.get("SERVER_WORKERS_SOCKET"):
    try:
        import server_workers_agent as _server_workers_agent

        _server_workers_agent.start()
    except Exception:
        pass


def _run_shadowed_sitecustomize():
    import importlib.machinery
    import importlib.util

    here = _os.path.dirname(_os.path.abspath(__file__))

    def is_here(entry):
        try:
            return _os.path.samefile(entry or _os.curdir, here)
        except (OSError, TypeError, ValueError):
            return False

    path = [entry for entry in _sys.path if not is_here(entry)]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its errors reach site.py, which reports them as for any sitecustomize
    return module


_shadowed_sitecustomize = _run_shadowed_sitecustomize()
