"""Request insight (docs/agent-protocol.md, "Request insight"): the agent wraps the app a worker serves (ASGI or WSGI)
and counts its HTTP requests: served, rate, latency p50 / p99 over the last minute, responses by status class,
unhandled exceptions, the requests in flight, a histogram of durations (for Prometheus), and of each interval between
two summaries its percentiles and its slowest requests (for the dashboard). A thread sends a summary on the control
connection at most once a second, at the turn of the wall clock's second, and only when it changed.

On when ``SERVER_WORKERS_INSIGHT=1``; otherwise nothing is wrapped and nothing runs. Stdlib only, fail open: the
accounting never raises into the server.
"""

import bisect
import heapq
import itertools
import os
import threading
import time

from .connection import send, start_daemon_thread
from .state import hooks, state

ENV_INSIGHT = "SERVER_WORKERS_INSIGHT"
SUMMARY_INTERVAL = 1.0  # seconds between two looks at the figures (a summary goes out only when they changed)
LATENCY_WINDOW = 60  # seconds of latencies the percentiles cover
RATE_WINDOW = 5  # full seconds the request rate is averaged over
SENT_REQUESTS = 20  # the oldest requests in flight that a summary lists (it counts them all)
PATH_LIMIT = 200  # characters of a path a summary keeps
_SUB_BUCKETS = 16  # latency buckets per power of two of microseconds: about 6 % wide
# The histogram's upper bounds in seconds (Prometheus' `le`; a last bucket, +Inf, counts the rest).
DURATION_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SLOWEST = 5  # the slowest requests of an interval that a summary lists

# An in-flight record: a list, so that the wrappers can set its status without a lookup. One clock (time.time) for
# the start's timestamp and the latency: a second clock read per request costs more than it would tell.
_METHOD, _PATH, _STARTED_AT, _STATUS = range(4)


def _bucket(micros):
    """Log-linear latency buckets: exact below 32 us, then 16 per power of two."""
    shift = micros.bit_length() - 5
    if shift <= 0:
        return micros
    return shift * _SUB_BUCKETS + (micros >> shift)


def _bucket_middle(bucket):
    """Microseconds in the middle of a bucket."""
    if bucket < 2 * _SUB_BUCKETS:
        return float(bucket)
    shift = bucket // _SUB_BUCKETS - 1
    low = (bucket - shift * _SUB_BUCKETS) << shift
    return low + (1 << shift) / 2.0


class Book:
    """The figures of this process. ``begin`` / ``end`` per request; ``summary`` once a second from another thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = {}  # id -> record; dict order is start order, so the first are the oldest
        self.ids = itertools.count(1)  # next() is atomic under the GIL: no lock to begin a request
        self.served = 0
        self.statuses = [0, 0, 0, 0, 0]  # 1xx (and unknown), 2xx, 3xx, 4xx, 5xx
        self.exceptions = 0
        self.window = {}  # latency bucket -> count, over the seconds in self.seconds
        self.seconds = []  # [second, {bucket: count}, requests ended in that second], oldest first
        self.durations = [0] * (len(DURATION_BOUNDS) + 1)  # requests per histogram bucket, since the start
        self.duration_sum = 0.0  # seconds
        self.interval = {}  # latency bucket -> count, of the requests ended since the last summary
        self.slowest = []  # a min-heap of (seconds, order, method, path, status, ended at): the interval's slowest

    def begin(self, method, path):
        record = [method, path, time.time(), 0]
        key = next(self.ids)
        self.in_flight[key] = record
        return key, record

    def end(self, key, record, raised):
        now = time.time()
        status = record[_STATUS]
        duration = max(0.0, now - record[_STARTED_AT])
        bucket = _bucket(int(duration * 1e6))
        second = int(now)
        with self.lock:
            self.in_flight.pop(key, None)
            self.served += 1
            if raised:
                self.exceptions += 1
                if status == 0:
                    status = 500  # nothing was sent: the server answers 500
            klass = status // 100 - 1
            self.statuses[klass if 0 < klass < 5 else 0] += 1
            current = self.seconds[-1] if self.seconds else None
            if current is None or current[0] != second:
                current = [second, {}, 0]
                self.seconds.append(current)
                self._expire(second)
            counts = current[1]
            counts[bucket] = counts.get(bucket, 0) + 1
            current[2] += 1
            self.window[bucket] = self.window.get(bucket, 0) + 1
            self.durations[bisect.bisect_left(DURATION_BOUNDS, duration)] += 1
            self.duration_sum += duration
            self.interval[bucket] = self.interval.get(bucket, 0) + 1
            if len(self.slowest) < SLOWEST or duration > self.slowest[0][0]:
                entry = (duration, key, record[_METHOD], record[_PATH], status, now)
                if len(self.slowest) < SLOWEST:
                    heapq.heappush(self.slowest, entry)
                else:
                    heapq.heapreplace(self.slowest, entry)

    def _expire(self, now_second):
        """Drops the seconds older than the latency window (the lock is held)."""
        while self.seconds and self.seconds[0][0] <= now_second - LATENCY_WINDOW:
            _, counts, _ = self.seconds.pop(0)
            for bucket, count in counts.items():
                left = self.window[bucket] - count
                if left:
                    self.window[bucket] = left
                else:
                    del self.window[bucket]

    def in_flight_requests(self):
        """(method, path, started at) of every request in flight, oldest first."""
        return [(record[_METHOD], record[_PATH], record[_STARTED_AT]) for record in list(self.in_flight.values())]

    def summary(self):
        now_second = int(time.time())
        with self.lock:
            self._expire(now_second)
            window = sorted(self.window.items())
            recent = sum(entry[2] for entry in self.seconds if now_second - RATE_WINDOW <= entry[0] < now_second)
            oldest = list(self.in_flight.values())
            interval = sorted(self.interval.items())
            slowest = sorted(self.slowest, reverse=True)
            self.interval = {}
            self.slowest = []
            durations = {"le": DURATION_BOUNDS, "counts": list(self.durations), "sumSeconds": round(self.duration_sum, 6)}
            message = {
                "t": "insight",
                "served": self.served,
                "rate": round(recent / float(RATE_WINDOW), 1),
                "statuses": {"1xx": self.statuses[0], "2xx": self.statuses[1], "3xx": self.statuses[2],
                             "4xx": self.statuses[3], "5xx": self.statuses[4]},
                "exceptions": self.exceptions,
            }
        total = sum(count for _, count in window)
        message["latencyCount"] = total
        message["p50Ms"] = _percentile(window, total, 0.50)
        message["p99Ms"] = _percentile(window, total, 0.99)
        ended = sum(count for _, count in interval)
        message["interval"] = {
            "count": ended,
            "p50Ms": _percentile(interval, ended, 0.50),
            "p99Ms": _percentile(interval, ended, 0.99),
            "slowest": [
                {"method": method, "path": path, "status": status, "ms": round(seconds * 1000.0, 3),
                 "endedAt": int(ended_at * 1000)}
                for seconds, _, method, path, status, ended_at in slowest
            ],
        }
        message["durations"] = durations
        message["inFlight"] = len(oldest)
        message["requests"] = [
            {"method": record[_METHOD], "path": record[_PATH], "startedAt": int(record[_STARTED_AT] * 1000)}
            for record in oldest[:SENT_REQUESTS]
        ]
        timeout = _gunicorn_timeout()
        if timeout:
            message["timeoutSeconds"] = timeout
        return message


def _percentile(window, total, share):
    if total == 0:
        return None
    rank = max(1, int(total * share + 0.999999))
    seen = 0
    for bucket, count in window:
        seen += count
        if seen >= rank:
            return round(_bucket_middle(bucket) / 1000.0, 3)
    return None


def _gunicorn_timeout():
    """Gunicorn's worker timeout (seconds, 0 when off), in a Gunicorn worker."""
    worker = state.worker if state.active("worker") else None
    try:
        return float(worker.cfg.timeout) if worker is not None else None
    except Exception:
        return None


def _text(value):
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = str(value or "")
    return text if len(text) <= PATH_LIMIT else text[: PATH_LIMIT - 1] + "…"


# ---------------------------------------------------------------------------------------------------------------------
# The wrappers


class _AppWrapper:
    """Stands in for the app it wraps: attributes it does not have are the app's."""

    def __init__(self, app, book):
        self.app = app
        self.book = book
        self.__wrapped__ = app

    def __getattr__(self, name):
        app = self.__dict__.get("app")
        if app is None:
            raise AttributeError(name)
        return getattr(app, name)


class AsgiInsight(_AppWrapper):
    """ASGI 3 middleware: HTTP requests are counted; lifespan and websockets pass through untouched."""

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        book = self.book
        key, record = book.begin(_text(scope.get("method")), _text(scope.get("path")))

        async def send_noting_status(message):
            if message.get("type") == "http.response.start":
                record[_STATUS] = message.get("status") or 0
            await send(message)

        raised = False
        try:
            return await self.app(scope, receive, send_noting_status)
        except BaseException:
            raised = True
            raise
        finally:
            try:
                book.end(key, record, raised)
            except Exception:
                pass


class WsgiInsight(_AppWrapper):
    """WSGI middleware: a request ends when the server closes its response (PEP 3333), or when the app raises."""

    def __call__(self, environ, start_response):
        book = self.book
        key, record = book.begin(
            _text(environ.get("REQUEST_METHOD")), _text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        )

        def start_noting_status(status, headers, exc_info=None):
            try:
                record[_STATUS] = int(str(status)[:3])
            except ValueError:
                pass
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, start_noting_status)
        except BaseException:
            _end_quietly(book, key, record, True)
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(result, (list, tuple)) or (isinstance(file_wrapper, type) and isinstance(result, file_wrapper)):
            # A list is done; a file wrapper stays what it is (the server may send it with sendfile).
            _end_quietly(book, key, record, False)
            return result
        return _ClosingResponse(result, book, key, record)


def _end_quietly(book, key, record, raised):
    try:
        book.end(key, record, raised)
    except Exception:
        pass


class _ClosingResponse:
    """The app's response iterable; the request ends when the server closes it."""

    def __init__(self, result, book, key, record):
        self.result = result
        self.book = book
        self.key = key
        self.record = record
        self.raised = False
        self.ended = False

    def __iter__(self):
        try:
            for chunk in self.result:
                yield chunk
        except BaseException:
            self.raised = True
            raise

    def close(self):
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        except BaseException:
            self.raised = True
            raise
        finally:
            if not self.ended:
                self.ended = True
                _end_quietly(self.book, self.key, self.record, self.raised)


# ---------------------------------------------------------------------------------------------------------------------
# This process's book and its summaries


class _Insight:
    def __init__(self):
        self.book = None
        self.reporter = None


_insight = _Insight()


def _forget_in_child():
    global _insight
    _insight = _Insight()  # a fork's requests are its own; the parent's summary thread is not in it


def current_book():
    """This process's figures, once the app is wrapped; else None."""
    return _insight.book


def enabled():
    return os.environ.get(ENV_INSIGHT) == "1"


def _wrap(app, interface):
    if not enabled() or not (state.active("worker") or state.active("master")):
        return app
    if isinstance(app, (AsgiInsight, WsgiInsight)):
        return app
    insight = _insight
    if insight.book is None:
        insight.book = Book()
    wrapper = AsgiInsight(app, insight.book) if interface == "asgi" else WsgiInsight(app, insight.book)
    if insight.reporter is None:
        insight.reporter = start_daemon_thread("server-workers-insight", _report, insight)
    return wrapper


def _report(insight):
    last = None
    while _insight is insight:
        # At the turn of the second: the supervisor reads each second's figures half a second later, so that each
        # second of its history holds one summary of each worker (and not two, or none, as two clocks drift).
        time.sleep(SUMMARY_INTERVAL - time.time() % SUMMARY_INTERVAL)
        try:
            message = insight.book.summary()
        except Exception:
            continue
        if message != last and send(message):
            last = message


hooks.in_forked_child.append(_forget_in_child)
hooks.wrap_app.append(_wrap)
