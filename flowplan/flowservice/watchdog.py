"""A deadline for a whole HTTP exchange, not only for the wait for one byte.

A socket timeout bounds each read; a server trickling one byte every half second never trips
it. Here one watchdog thread holds every armed deadline; when one passes while its request is
still on the wire, the watchdog shuts the request's socket down, which makes the blocked read
return at once and the request fail (the caller sees `Deadline.expired`).

The connection classes below tell the watchdog which socket belongs to which request: a
request claims its pooled connection when it starts, so a deadline can never shut down a
connection that has meanwhile gone back to the pool and been taken by another request.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

_current = threading.local()
_lock = threading.Lock()  # guards Deadline.conn/done/expired and _Watched._flowplan_deadline


class Deadline:
    """The time limit of one request attempt (its whole answer, body included)."""

    def __init__(self, seconds: float, connect_seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.connect_seconds = connect_seconds
        self.expired = False
        self._done = False
        self._conn: _Watched | None = None

    def __enter__(self) -> Deadline:
        _current.deadline = self
        return self

    def __exit__(self, *exc: object) -> None:
        _current.deadline = None
        with _lock:
            self._done = True
            self._conn = None

    def _start(self, conn: _Watched, connecting: bool) -> None:
        with _lock:
            if self._done:
                return
            self._conn = conn
            conn._flowplan_deadline = self
        seconds = self.seconds + (self.connect_seconds if connecting else 0.0)
        _WATCHDOG.arm(time.monotonic() + seconds, self)

    def _fire(self) -> None:
        with _lock:
            conn = self._conn
            if self._done or conn is None or conn._flowplan_deadline is not self:
                return
            self.expired = True
            sock = conn.sock
        if sock is not None:
            # the plain socket's shutdown, also for TLS: no TLS state is touched
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread firing deadlines in time order; cancelled ones are skipped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, at: float, deadline: Deadline) -> None:
        with self._cond:
            entry = (at, next(self._seq), deadline)
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="flowplan-http-watchdog", daemon=True
                )
                self._thread.start()
            # Woken only when this deadline is now the first to pass: with one timeout for
            # every request it rarely is, and a wake-up per request costs the workers the GIL.
            if self._heap[0] is entry:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                at, _, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline._fire()


_WATCHDOG = _Watchdog()


class _Watched(HTTPConnection):
    """Mixed into urllib3's connections: a request claims the connection for its deadline."""

    _flowplan_deadline: Deadline | None = None

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline: Deadline | None = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline._start(self, connecting=self.sock is None)
        super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


MAX_ORIGINS = 4  # Flow Service, Data Prep and IMS at most: no pool is ever evicted


def watched_pools(maxsize: int, **pool_kwargs: Any) -> PoolManager:
    """urllib3's pools whose connections obey the current thread's Deadline."""
    pools = PoolManager(num_pools=MAX_ORIGINS, maxsize=maxsize, block=False, **pool_kwargs)
    pools.pool_classes_by_scheme = {"http": _Pool, "https": _HTTPSPool}
    return pools
