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
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.util.retry import Retry

from flowplan import __version__
from flowplan.errors import NetworkError, OutcomeUnknownError
from flowplan.flowservice.answers import UNKNOWN
from flowplan.flowservice.settings import Settings
from flowplan.flowservice.watchdog import Deadline, WatchedAdapter

log = logging.getLogger("flowplan.http")

RETRY_AFTER_CAP = 60.0
BACKOFF_CAP = 8.0
REFUSED_BUDGET = 4.0  # seconds of waiting, in all, for a connection that keeps being refused
# 500 too: "you may be reaching the API limit" (Adobe's troubleshooting guide); a repeat is safe
# for GET, for PATCH (If-Match), PUT, DELETE (a second one finds 404, which counts as done).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CREATE_RETRY_STATUSES = frozenset({429, 503})  # refused before anything was created


@dataclass(frozen=True)
class Call:
    """One request as the retry loop sees it."""

    method: str
    url: str
    shown: str  # the path, for logs and errors: no query, no host
    repeatable: bool  # False for a create: repeating it may create twice
    kwargs: dict[str, Any] = field(default_factory=dict)


class _Failure(Exception):
    """An attempt that got no HTTP answer."""

    def __init__(self, reason: str, never_connected: bool, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.never_connected = never_connected
        self.refused = refused


class Transport:
    """Thread-safe: one requests.Session per thread over one shared connection pool."""

    def __init__(self, settings: Settings, parallelism: int = 8) -> None:
        self.settings = settings
        self._adapter = WatchedAdapter(
            max_retries=Retry(total=0, read=False, redirect=False, raise_on_status=False),
            pool_connections=2,
            pool_maxsize=max(parallelism, 4),
        )
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self.request_count = 0

    def close(self) -> None:
        self._adapter.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or netrc surprises; TLS verification stays on
            session.mount("https://", self._adapter)
            session.mount("http://", self._adapter)
            session.headers["User-Agent"] = f"flowplan/{__version__}"
            self._local.session = session
        return session

    def send(self, call: Call) -> requests.Response:
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
                if attempt == attempts or (failure.refused and refused_wait > REFUSED_BUDGET):
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

    def _attempt(self, call: Call) -> requests.Response:
        s = self.settings
        with self._count_lock:
            self.request_count += 1
        start = time.monotonic()
        try:
            with Deadline(s.read_timeout, s.connect_timeout) as deadline:
                response = self._session().request(
                    call.method,
                    call.url,
                    timeout=(s.connect_timeout, s.read_timeout),
                    allow_redirects=False,
                    **call.kwargs,
                )
        except requests.exceptions.RequestException as exc:
            failure = _failure(exc, deadline.expired, s.read_timeout)
            log.debug("%s %s -> %s", call.method, call.shown, failure.reason)
            raise failure from None
        if deadline.expired:  # cut short mid-answer: what was parsed cannot be trusted
            response.close()
            reason = f"no complete answer within {s.read_timeout:g} s"
            log.debug("%s %s -> %s", call.method, call.shown, reason)
            raise _Failure(reason, never_connected=False)
        ms = (time.monotonic() - start) * 1000
        log.debug("%s %s -> %s in %.0f ms", call.method, call.shown, response.status_code, ms)
        return response

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


def _failure(exc: Exception, expired: bool, read_timeout: float) -> _Failure:
    if expired or isinstance(exc, requests.exceptions.ReadTimeout):
        return _Failure(f"no complete answer within {read_timeout:g} s", never_connected=False)
    text = repr(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout) or "ConnectTimeout" in text:
        return _Failure("the connection could not be made in time", never_connected=True)
    if "refused" in text:
        return _Failure("connection refused", never_connected=True, refused=True)
    if "NameResolution" in text or "getaddrinfo" in text:
        return _Failure("the host name could not be resolved", never_connected=True)
    if "NewConnectionError" in text:
        return _Failure("the connection could not be made", never_connected=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failure("the TLS handshake or session failed", never_connected=False)
    return _Failure("the connection dropped before a complete answer", never_connected=False)


def _advice(failure: _Failure) -> str:
    if failure.refused:
        return "connection refused; is the endpoint right and reachable?"
    return failure.reason


def _retry_after(response: requests.Response) -> float | None:
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
