"""One HTTP exchange with retries, bounded in time, and said out loud when it is retried.

- Every attempt is bounded as a whole by FLOWPLAN_READ_TIMEOUT (see watchdog.py), the
  connect by FLOWPLAN_CONNECT_TIMEOUT.
- Retried, with capped exponential backoff and jitter: 429 and 503 (honouring Retry-After,
  capped) for every call; 500, 502, 504, a dropped connection or a timeout only for calls that
  are safe to repeat (GET, PATCH with If-Match, PUT, DELETE, actions, the IMS token). A create
  is retried only when it provably created nothing (429, 503, a connection never made);
  otherwise OutcomeUnknownError.
- A refused connection gives up after about REFUSED_BUDGET seconds of waiting in all: a wrong
  port should not mean a long silence.
- Each retry logs one WARNING line on "flowplan.http" naming the call, the reason and the wait;
  --debug logs method, path, status and time of every attempt. Never a header or a body.
- An answer is read up to MAX_ANSWER_BYTES: a page of 100 records is well under 1 MiB, and a
  broken or hostile endpoint must not fill the memory. A longer one is an error, not retried.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from urllib3 import BaseHTTPResponse, PoolManager, Timeout
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import make_headers

from flowplan import __version__
from flowplan.errors import NetworkError, OutcomeUnknownError
from flowplan.flowservice.answers import UNKNOWN, Answer
from flowplan.flowservice.settings import Settings
from flowplan.flowservice.watchdog import Deadline, watched_pools

log = logging.getLogger("flowplan.http")

RETRY_AFTER_CAP = 60.0
BACKOFF_CAP = 8.0
REFUSED_BUDGET = 4.0  # seconds of waiting, in all, for a connection that keeps being refused
# 500 too: "you may be reaching the API limit" (Adobe's troubleshooting guide); a repeat is safe
# for GET, for PATCH (If-Match), PUT, DELETE (a second one finds 404, which counts as done).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CREATE_RETRY_STATUSES = frozenset({429, 503})  # refused before anything was created
MAX_ANSWER_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Call:
    """One request as the retry loop sees it."""

    method: str
    origin: str  # scheme://host[:port]
    target: str  # path and query, as sent
    shown: str  # the path, for logs and errors: no query, no host
    repeatable: bool  # False for a create: repeating it may create twice
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


class _Failure(Exception):
    """An attempt that got no HTTP answer."""

    def __init__(
        self, reason: str, never_connected: bool, refused: bool = False, final: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.never_connected = never_connected
        self.refused = refused
        self.final = final  # another attempt would end the same way


class Transport:
    """Thread-safe: urllib3's connection pools (one per origin), shared by every thread.

    What requests did for flowplan, kept: TLS verified against certifi's CA bundle (never the
    environment's), no proxy, no redirect followed, no retry inside urllib3, gzip and deflate
    accepted, the User-Agent. Its cookies are gone: Flow Service needs none."""

    def __init__(self, settings: Settings, parallelism: int = 8) -> None:
        self.settings = settings
        self._pools: PoolManager = watched_pools(max(parallelism, 4), **_tls_options(settings))
        self._origins: dict[str, HTTPConnectionPool] = {}
        self._timeout = Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        self._headers = {
            **make_headers(keep_alive=True, accept_encoding=True),
            "User-Agent": f"flowplan/{__version__}",
        }
        self._count_lock = threading.Lock()
        self.request_count = 0

    def close(self) -> None:
        self._pools.clear()

    def _pool(self, origin: str) -> HTTPConnectionPool:
        """The origin's pool, kept (the manager's lookup parses the URL every time)."""
        pool = self._origins.get(origin)
        if pool is None:
            pool = self._origins[origin] = self._pools.connection_from_url(origin)
        return pool

    def send(self, call: Call) -> Answer:
        """The last answer (any status), after the retries it deserved."""
        attempts = max(int(self.settings.retries), 0) + 1
        refused_wait = 0.0
        for attempt in range(1, attempts + 1):
            try:
                response = self._attempt(call)
            except _Failure as failure:
                if not (call.repeatable or failure.never_connected):
                    raise OutcomeUnknownError(
                        f"{failure.reason}; {UNKNOWN}", method=call.method, path=call.shown
                    ) from None
                delay = self._backoff(attempt)
                if failure.refused:
                    refused_wait += delay
                if (
                    attempt == attempts
                    or failure.final
                    or (failure.refused and refused_wait > REFUSED_BUDGET)
                ):
                    raise NetworkError(
                        _advice(failure), method=call.method, path=call.shown
                    ) from None
                self._pause(call, failure.reason, delay, attempt, attempts)
                continue
            retry_on = RETRY_STATUSES if call.repeatable else CREATE_RETRY_STATUSES
            if response.status_code not in retry_on or attempt == attempts:
                return response
            asked = _retry_after(response)
            reason = f"HTTP {response.status_code}"
            reason += "" if asked is None else " with Retry-After"
            delay = self._backoff(attempt) if asked is None else asked
            self._pause(call, reason, delay, attempt, attempts)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, call: Call) -> Answer:
        s = self.settings
        with self._count_lock:
            self.request_count += 1
        start = time.monotonic()
        try:
            with Deadline(s.read_timeout, s.connect_timeout) as deadline:
                response = self._open(call)
                body = _read_capped(response)
        # ValueError: the answer's reading broke off in a way urllib3 does not wrap
        except (HTTPError, OSError, http.client.HTTPException, ValueError) as exc:
            failure = _failure(exc, deadline.expired, s.read_timeout)
            log.debug("%s %s -> %s", call.method, call.shown, failure.reason)
            raise failure from None
        if deadline.expired:  # cut short mid-answer: what was parsed cannot be trusted
            reason = f"no complete answer within {s.read_timeout:g} s"
            log.debug("%s %s -> %s", call.method, call.shown, reason)
            raise _Failure(reason, never_connected=False)
        ms = (time.monotonic() - start) * 1000
        log.debug("%s %s -> %s in %.0f ms", call.method, call.shown, response.status, ms)
        return Answer(response.status, response.headers, body)

    def _open(self, call: Call) -> BaseHTTPResponse:
        """The request sent and the answer's head read; its body is left to the caller."""
        try:
            return self._pool(call.origin).urlopen(
                call.method,
                call.target,
                body=call.body,
                headers={**self._headers, **call.headers},
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=self._timeout,
                preload_content=False,
                decode_content=True,
            )
        except ValueError:  # a header or the URL http.client refuses to send (CR, LF...)
            raise NetworkError(
                "the request could not be sent: a header value or the URL is not valid HTTP",
                method=call.method,
                path=call.shown,
            ) from None

    def _backoff(self, attempt: int) -> float:
        base = self.settings.backoff
        delay: float = min(base * 2 ** (attempt - 1), BACKOFF_CAP)
        return delay + random.uniform(0, base)  # noqa: S311

    @staticmethod
    def _pause(call: Call, reason: str, delay: float, attempt: int, attempts: int) -> None:
        log.warning(
            "%s %s: %s; retrying in %.1f s (attempt %d of %d)",
            call.method,
            call.shown,
            reason,
            delay,
            attempt + 1,
            attempts,
        )
        time.sleep(delay)


def _read_capped(response: BaseHTTPResponse) -> bytes:
    """The whole body, decoded; a _Failure past MAX_ANSWER_BYTES (the connection is dropped
    rather than read to its end)."""
    declared = response.headers.get("Content-Length", "")
    # ASCII digits only ("²".isdigit() is true), and few enough for int(): http.client and
    # urllib3 ignore any other Content-Length, and the loop below bounds the body anyway.
    if declared.isascii() and declared.isdigit() and int(declared[:20]) > MAX_ANSWER_BYTES:
        _drop(response)
        raise _too_long()
    parts: list[bytes] = []
    size = 0
    while chunk := response.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            _drop(response)
            raise _too_long()
        parts.append(chunk)
    response.release_conn()
    return b"".join(parts)


def _drop(response: BaseHTTPResponse) -> None:
    """The connection closed rather than read to its end, and given back to its pool (which
    opens a new one in its place)."""
    response.close()
    response.release_conn()


def _too_long() -> _Failure:
    return _Failure(
        f"the answer is longer than {MAX_ANSWER_BYTES // 2**20} MiB, more than any Flow Service "
        "answer; the endpoint is not Flow Service, or it is broken",
        never_connected=False,
        final=True,
    )


def _tls_options(settings: Settings) -> dict[str, Any]:
    """requests' verification: certifi's CA bundle, loaded once, only when a URL is https."""
    urls = (settings.endpoint, settings.conversion_endpoint, settings.ims_endpoint)
    if not any(url.lower().startswith("https:") for url in urls):
        return {}
    import certifi
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()
    context.load_verify_locations(certifi.where())
    return {"ssl_context": context, "cert_reqs": "CERT_REQUIRED"}


def _failure(exc: Exception, expired: bool, read_timeout: float) -> _Failure:
    if expired or isinstance(exc, ReadTimeoutError):
        return _Failure(f"no complete answer within {read_timeout:g} s", never_connected=False)
    if isinstance(exc, NameResolutionError):
        return _Failure("the host name could not be resolved", never_connected=True)
    if isinstance(exc, NewConnectionError):  # before its base class, ConnectTimeoutError
        if isinstance(exc.__cause__ or exc.__context__, ConnectionRefusedError):
            return _Failure("connection refused", never_connected=True, refused=True)
        if "refused" in str(exc):
            return _Failure("connection refused", never_connected=True, refused=True)
        return _Failure("the connection could not be made", never_connected=True)
    if isinstance(exc, ConnectTimeoutError):
        return _Failure("the connection could not be made in time", never_connected=True)
    if isinstance(exc, SSLError):
        return _Failure("the TLS handshake or session failed", never_connected=False)
    return _Failure("the connection dropped before a complete answer", never_connected=False)


def _advice(failure: _Failure) -> str:
    if failure.refused:
        return "connection refused; is the endpoint right and reachable?"
    return failure.reason


def _retry_after(response: Answer) -> float | None:
    """Retry-After in seconds (delta or HTTP date), capped; None when absent or unreadable."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)
