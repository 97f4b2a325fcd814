"""The emulator as tests and the CLI hold it: configuration, fault injection, and an
in-process API to seed and inspect what it keeps (as another user of the org would)."""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowplan.emulator.backend import DEFAULT_SANDBOXES, Backend
from flowplan.emulator.problems import Caller, Clock
from flowplan.emulator.server import CONVERSION_PREFIX, FLOW_PREFIX, IMS_PATH, Server
from flowplan.emulator.store import FlowStore
from flowplan.flowservice.catalog import BUILTIN_TYPES

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fault:
    """One programmed misbehaviour for the next matching request.

    kind: "status" (answer `status`, with Retry-After when `retry_after` is set, without doing
    the work), "drop" (close the connection without doing the work), "drop_after_write" (do the
    work, then close without answering), "slow" (do the work, answer after `delay` seconds).
    """

    kind: str
    status: int = 503
    retry_after: int | None = None
    delay: float = 0.0
    method: str | None = None  # only requests with this method
    path_contains: str | None = None  # only paths containing this


@dataclass(slots=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    fault: str | None = None


@dataclass
class EmulatorConfig:
    latency_ms: int = 0
    fail_rate: float = 0.0
    seed: int | None = None
    strict: bool = False
    random_faults: tuple[Fault, ...] = (
        Fault("status", status=429, retry_after=1),
        Fault("status", status=500),
        Fault("status", status=502),
        Fault("status", status=503),
        Fault("drop_after_write"),
    )
    slow_delay: float = 3.0
    log_requests: bool = False  # one line per request on the log (method, path, status)
    record_requests: bool = True  # keep every request for tests; off for a long-running server
    max_body: int = MAX_BODY  # larger bodies are answered 413
    issued_tokens: set[str] = field(default_factory=set)


class Emulator:
    """A running emulator. Use as a context manager, or start()/stop().

    `sandboxes`: the sandbox names that exist (others answer 404); `time_scale`: how much
    faster than the wall clock the emulator's time runs (runs are scheduled by it);
    `advance(seconds)` moves it on at once."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sandboxes: Iterable[str] = DEFAULT_SANDBOXES,
        time_scale: float = 1.0,
        **config: Any,
    ) -> None:
        self.config = EmulatorConfig(**config)
        self.clock = Clock(time_scale)
        self.backend = Backend(self.clock, sandboxes)
        self._faults: deque[Fault] = deque()
        self._faults_lock = threading.Lock()
        self._random = random.Random(self.config.seed)  # noqa: S311 - fault choice, not crypto
        self.requests: list[LoggedRequest] = []
        self._server = Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> FlowStore:
        """The base connections."""
        return self.backend.connections

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def flow_url(self) -> str:
        return self.base_url + FLOW_PREFIX

    @property
    def conversion_url(self) -> str:
        return self.base_url + CONVERSION_PREFIX

    @property
    def ims_url(self) -> str:
        return self.base_url + IMS_PATH

    def start(self) -> Emulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="flowplan-emulator"
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def close(self) -> None:
        """Release the socket of an emulator that was never started."""
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock on (runs that fell due are recorded when next read)."""
        self.clock.advance(seconds)

    # --- fault injection ----------------------------------------------------------------------

    def push_fault(self, *faults: Fault) -> None:
        """Queue faults for the next matching requests, in order."""
        with self._faults_lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def next_fault(self, method: str, path: str) -> Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if (fault.method is None or fault.method == method) and (
                    fault.path_contains is None or fault.path_contains in path
                ):
                    self._faults.remove(fault)
                    return fault
            served = path.startswith((FLOW_PREFIX, CONVERSION_PREFIX))
            if (
                served
                and self.config.fail_rate > 0
                and self._random.random() < self.config.fail_rate
            ):
                return self._random.choice(self.config.random_faults)
        return None

    # --- test API -----------------------------------------------------------------------------

    def record(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        status: int,
        raw: bytes,
        fault: str | None,
    ) -> None:
        if not self.config.record_requests:
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in handler.headers.items() if k.lower() != "authorization"}
        self.requests.append(LoggedRequest(method, path, status, headers, body, fault))

    def seed(
        self,
        org: str,
        sandbox: str,
        *,
        name: str,
        params: dict[str, Any],
        type_name: str = "hubspot",
        description: str | None = None,
        client: str = "someone-else",
    ) -> str:
        """Create a connection as another user would; returns its id."""
        ctype = BUILTIN_TYPES[type_name]
        body: dict[str, Any] = {
            "name": name,
            "auth": {"specName": ctype.default_auth_spec.name, "params": params},
            "connectionSpec": {"id": ctype.spec_id, "version": ctype.version},
        }
        if description is not None:
            body["description"] = description
        created = self.store.create(Caller(org, sandbox, client), body)
        return str(created["id"])

    def change(
        self,
        org: str,
        sandbox: str,
        conn_id: str,
        change: Callable[[dict[str, Any]], None],
        client: str = "someone-else",
    ) -> dict[str, Any]:
        """Change a connection out of band (as another user): new etag, updatedBy."""
        return self.store.modify_out_of_band(Caller(org, sandbox, client), conn_id, change)

    def stored(self, org: str, sandbox: str, conn_id: str) -> dict[str, Any]:
        """The full stored record, secrets in clear."""
        return self.store.stored(Caller(org, sandbox, ""), conn_id)

    def connections(self, org: str, sandbox: str) -> list[dict[str, Any]]:
        return self.store.all(Caller(org, sandbox, ""))

    def resources(self, kind: str, org: str, sandbox: str) -> list[dict[str, Any]]:
        """Every stored record of a Flow Service kind (`sourceConnections`, `flows`, …)."""
        backend = self.backend
        store = {
            "connections": backend.connections,
            "sourceConnections": backend.sources,
            "targetConnections": backend.targets,
            "flows": backend.flows,
        }[kind]
        with backend.shared.lock:
            return store.all(Caller(org, sandbox, ""))
