"""The emulator's HTTP side: Flow Service under /data/foundation/flowservice, IMS at
/ims/token/v3, with the gateway's header rules and error bodies, and fault injection.

A stdlib ThreadingHTTPServer: no dependency, real sockets, startable on port 0 from tests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flowplan.emulator.store import ApiProblem, Caller, FlowStore, parse_filter
from flowplan.flowservice.catalog import BUILTIN_TYPES

FLOW_PREFIX = "/data/foundation/flowservice"
IMS_PATH = "/ims/token/v3"
TOKEN_LIFETIME_S = 86399
MAX_BODY = 10 * 1024 * 1024

log = logging.getLogger("flowplan.emulator")


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
    issued_tokens: set[str] = field(default_factory=set)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timed out, killed) is normal here, not worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are logged by _respond, without bodies

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    # --- plumbing -----------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        emulator = self.server.emulator
        request_id = str(uuid.uuid4())
        parts = urlsplit(self.path)
        raw = self._read_body()
        if raw is None:
            return
        fault = emulator.next_fault(method, parts.path)
        if emulator.config.latency_ms:
            time.sleep(emulator.config.latency_ms / 1000)
        if fault is not None and fault.kind in ("status", "drop"):
            status = 0 if fault.kind == "drop" else fault.status
            emulator.record(self, method, parts.path, status, raw, fault.kind)
            if fault.kind == "drop":
                self._drop()
                return
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            body = _flow_error(
                ApiProblem(
                    fault.status,
                    _fault_code(fault.status),
                    _fault_title(fault.status),
                    "Injected fault.",
                ),
                request_id,
            )
            self._respond(fault.status, body, headers, request_id)
            return
        try:
            status, body, headers = self._route(method, parts.path, parts.query, raw)
        except ApiProblem as problem:
            status, body, headers = problem.status, _flow_error(problem, request_id), {}
        except _GatewayError as gateway:
            status, body, headers = gateway.status, gateway.body, {}
        emulator.record(self, method, parts.path, status, raw, fault.kind if fault else None)
        if fault is not None and fault.kind == "drop_after_write":
            self._drop()
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay or emulator.config.slow_delay)
        self._respond(status, body, headers, request_id)

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._respond(413, {"error_code": "413000", "message": "Request too large"}, {}, "")
            return None
        return self.rfile.read(length) if length else b""

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _respond(self, status: int, body: Any, headers: dict[str, str], request_id: str) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if request_id:
            self.send_header("x-request-id", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        if self.server.emulator.config.log_requests:
            log.info("%s %s %s", self.command, urlsplit(self.path).path, status)

    # --- routes -------------------------------------------------------------------------------

    def _route(
        self, method: str, path: str, query: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path.rstrip("/") == IMS_PATH and method == "POST":
            return self._ims_token(query, raw)
        if not path.startswith(FLOW_PREFIX + "/"):
            raise ApiProblem(404, "1101", "Resource not found", f"No route for {path}.")
        rest = path[len(FLOW_PREFIX) :].rstrip("/").split("/")[1:]
        caller = self._caller()
        params = parse_qs(query, keep_blank_values=True)
        store = self.server.emulator.store
        if rest == ["connections"]:
            if method == "GET":
                return (
                    200,
                    store.query(
                        caller,
                        params.get("property", []),
                        _one(params, "limit"),
                        _one(params, "continuationToken"),
                        _one(params, "orderby"),
                        _one(params, "count"),
                    ),
                    {},
                )
            if method == "POST":
                created = store.create(caller, self._json_body(raw))
                location = f"{FLOW_PREFIX}/connections/{created['id']}"
                return 201, created, {"Location": location}
        elif len(rest) == 2 and rest[0] == "connections":
            conn_id = rest[1]
            if method == "GET":
                return 200, {"items": [store.get(caller, conn_id)]}, {}
            if method == "PATCH":
                if_match = self.headers.get("If-Match")
                if not if_match:
                    return 200, store.patch(caller, conn_id, None, None), {}
                return 200, store.patch(caller, conn_id, if_match, self._json_body(raw)), {}
            if method == "DELETE":
                store.delete(caller, conn_id)
                return 204, None, {}
        elif len(rest) == 3 and rest[0] == "connections" and rest[2] == "test" and method == "GET":
            store.get(caller, rest[1])
            return 200, {"result": True}, {}
        elif rest and rest[0] == "connectionSpecs" and method == "GET":
            return self._specs(rest[1:], params)
        raise ApiProblem(405, "1101", "Method not allowed", f"{method} is not allowed on {path}.")

    def _specs(
        self, rest: list[str], params: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        specs = [t.to_api() for t in BUILTIN_TYPES.values()]
        if rest:
            found = [s for s in specs if s["id"] == rest[0].lower()]
            if not found:
                raise ApiProblem(
                    404,
                    "1101",
                    "Resource not found",
                    f"The requested connectionSpecs resource {rest[0]} is not found.",
                )
            return 200, {"items": found}, {}
        for expression in params.get("property", []):
            predicate = parse_filter(expression)
            specs = [s for s in specs if predicate(s)]
        return 200, {"items": specs}, {}

    def _caller(self) -> Caller:
        emulator = self.server.emulator
        auth = self.headers.get("Authorization")
        if not auth:
            raise _GatewayError(403, "403010", "Oauth token is missing.")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _GatewayError(401, "401013", "Oauth token is not valid")
        if emulator.config.strict and token.strip() not in emulator.config.issued_tokens:
            raise _GatewayError(401, "401013", "Oauth token is not valid")
        api_key = self.headers.get("x-api-key")
        if not api_key:
            raise _GatewayError(403, "403000", "Api Key is required")
        org = self.headers.get("x-gw-ims-org-id")
        if not org:
            raise _GatewayError(400, "400003", "Missing header")
        sandbox = self.headers.get("x-sandbox-name")
        if not sandbox:
            # The sources conflict (default sandbox vs 2105-400); the strict answer is safer.
            raise ApiProblem(
                400,
                "2105",
                "Header is missing",
                "The header x-sandbox-name is missing in the request.",
            )
        return Caller(org=org, sandbox=sandbox, client=api_key)

    def _json_body(self, raw: bytes) -> Any:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _GatewayError(
                400,
                "",
                "",
                body={
                    "type": "/placeholder/type/uri",
                    "status": 400,
                    "title": "BadRequestError",
                    "detail": "A valid content-type must be specified",
                },
            )
        if not raw.strip():
            raise ApiProblem(
                400, "1405", "Invalid request", "The request body cannot be null or empty."
            )
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiProblem(
                400, "1405", "Invalid request", "The request body is not valid JSON."
            ) from None

    def _ims_token(self, query: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        form = parse_qs(query) | parse_qs(raw.decode("utf-8", "replace"))
        grant = _one(form, "grant_type")
        client_id, client_secret = _one(form, "client_id"), _one(form, "client_secret")
        if grant != "client_credentials":
            return (
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                {},
            )
        if not client_id or not client_secret:
            return (
                401,
                {
                    "error": "invalid_client",
                    "error_description": "client_id and client_secret are required",
                },
                {},
            )
        token = "emu-" + secrets.token_urlsafe(24)
        self.server.emulator.config.issued_tokens.add(token)
        return (
            200,
            {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME_S},
            {},
        )


class _GatewayError(Exception):
    """The API gateway's own `{error_code, message}` answers."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error_code": code, "message": message}


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _fault_code(status: int) -> str:
    return {429: "1429", 500: "1102", 502: "1104", 503: "1103", 504: "1104"}.get(status, "1102")


def _fault_title(status: int) -> str:
    return {429: "Too Many Requests", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
        status, "Internal Error"
    )


def _flow_error(problem: ApiProblem, request_id: str) -> dict[str, Any]:
    return {
        "type": f"https://ns.adobe.com/aep/errors/FLOW-{problem.code}-{problem.status}",
        "title": problem.title,
        "status": problem.status,
        "report": {
            "detailed-message": problem.message,
            "request-id": request_id,
            "type": "connections",
        },
        "errorMessage": problem.message,
        "errorDetails": problem.message,
    }


class Emulator:
    """A running emulator. Use as a context manager, or start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.config = EmulatorConfig(**config)
        self.store = FlowStore()
        self._faults: deque[Fault] = deque()
        self._faults_lock = threading.Lock()
        self._random = random.Random(self.config.seed)  # noqa: S311 - fault choice, not crypto
        self.requests: list[LoggedRequest] = []
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def flow_url(self) -> str:
        return self.base_url + FLOW_PREFIX

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

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
            failing = path.startswith(FLOW_PREFIX) and self.config.fail_rate > 0
            if failing and self._random.random() < self.config.fail_rate:
                return self._random.choice(self.config.random_faults)
        return None

    # --- test API -----------------------------------------------------------------------------

    def record(
        self, handler: _Handler, method: str, path: str, status: int, raw: bytes, fault: str | None
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
