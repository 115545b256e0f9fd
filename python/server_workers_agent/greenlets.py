"""Greenlets' stacks for the ``stacks`` command (docs/agent-protocol.md, "Stacks").

In a gevent or eventlet worker (Gunicorn's ``--worker-class gevent`` / ``eventlet``) a request waits in a greenlet,
not on a thread's stack: faulthandler shows the thread running the hub (``gevent/hub.py ... in run``). Both keep their
greenlets as objects of the ``greenlet`` package, found among live objects; each suspended greenlet's frames
(``gr_frame``, then ``f_back``) are written like a thread's, the ones on an in-flight request first (oldest request
first: their stack holds request insight's WSGI wrapper, which names the request), then the others. The greenlet that
runs (each thread's current one) is in faulthandler's dump of its thread.

Stdlib only: the ``greenlet`` package is the app's, looked up in ``sys.modules``. Fail open.
"""

import sys
import time

GREENLETS_LIMIT = 50  # greenlets written at most (the others are counted): a server may hold thousands of idle ones
_FRAMES_LIMIT = 100


def suspended_greenlets(objects):
    """The suspended greenlets among ``objects`` (gc's live objects), or none when greenlet is not imported."""
    module = sys.modules.get("greenlet")
    kind = getattr(module, "greenlet", None) if module is not None else None
    if not isinstance(kind, type):
        return []
    found = []
    for candidate in objects:
        try:
            if isinstance(candidate, kind) and candidate.gr_frame is not None:
                found.append(candidate)
        except Exception:
            continue
    return found


def greenlets_text(greenlets):
    """The stacks of ``greenlets``, those on a request first; "" when there are none."""
    if not greenlets:
        return ""
    entries = []
    for greenlet in greenlets:
        try:
            frames = _frames(greenlet.gr_frame)
            entries.append((_request_of(frames), greenlet, frames))
        except Exception:
            continue
    on_requests = sorted((entry for entry in entries if entry[0] is not None), key=lambda entry: entry[0][2])
    others = [entry for entry in entries if entry[0] is None]
    ordered = on_requests + others
    now = time.time()
    count = len(ordered)
    lines = [
        "",
        "Greenlets: %d suspended (most recent call first), %d on a request in flight, listed first:" % (count, len(on_requests)),
    ]
    for request, greenlet, frames in ordered[:GREENLETS_LIMIT]:
        on = " on %s %s (%.1f s)" % (request[0], request[1], now - request[2]) if request is not None else ""
        lines.append("")
        lines.append("Greenlet %s%s:" % (_name(greenlet), on))
        for frame in frames:
            code = frame.f_code
            lines.append('  File "%s", line %s in %s' % (code.co_filename, frame.f_lineno, code.co_name))
    if count > GREENLETS_LIMIT:
        lines.append("")
        lines.append("... and %d more greenlets, none on a request" % (count - GREENLETS_LIMIT))
    return "\n".join(lines) + "\n\n"


def _frames(frame):
    frames = []
    while frame is not None and len(frames) < _FRAMES_LIMIT:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _request_of(frames):
    """(method, path, started_at) of the request this greenlet serves, from request insight's frame; else None. The
    frames whose locals hold a request's record: the WSGI wrapper while the app runs, and the response it returns
    while the server iterates it."""
    insight = sys.modules.get(__package__ + ".insight")
    try:
        in_locals = insight.WsgiInsight.__call__.__code__
        on_self = insight._ClosingResponse.__iter__.__code__
        fields = insight._METHOD, insight._PATH, insight._STARTED_AT
    except AttributeError:
        return None  # request insight is not there (or not as this expects): the greenlets are listed all the same
    for frame in frames:
        record = None
        if frame.f_code is in_locals:
            record = frame.f_locals.get("record")
        elif frame.f_code is on_self:
            record = getattr(frame.f_locals.get("self"), "record", None)
        if isinstance(record, list) and len(record) > max(fields):
            return tuple(record[field] for field in fields)
    return None


def _name(greenlet):
    name = getattr(greenlet, "name", None)  # gevent's Greenlet
    if not isinstance(name, str) or not name:
        name = type(greenlet).__name__
    return "%s at 0x%x" % (name, id(greenlet))
