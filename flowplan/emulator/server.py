"""The emulator's HTTP side: Flow Service under /data/foundation/flowservice, Data Prep under
/data/foundation/conversion, IMS at /ims/token/v3, with the gateway's header rules and error
bodies, and fault injection. What each call does is in routes.py.

A stdlib ThreadingHTTPServer: no dependency, real sockets, startable on port 0 from tests.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import secrets
import socket
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from flowplan.emulator import routes
from flowplan.emulator.problems import ApiProblem, Caller
from flowplan.errors import EmulatorError

if TYPE_CHECKING:
    from flowplan.emulator.core import Emulator

FLOW_PREFIX = routes.FLOW_PREFIX
CONVERSION_PREFIX = routes.CONVERSION_PREFIX
IMS_PATH = "/ims/token/v3"
TOKEN_LIFETIME_S = 86399

log = logging.getLogger("flowplan.emulator")


class GatewayError(Exception):
    """The API gateway's own `{error_code, message}` answers."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error_code": code, "message": message}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        try:
            super().__init__(address, _Handler)
        except OSError as exc:
            host, port = address
            if exc.errno == errno.EADDRINUSE:
                raise EmulatorError(f"port {port} on {host} is in use") from None
            raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timed out, killed) is normal here, not worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per request
    server: Server

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
        arrived = time.monotonic()
        emulator = self.server.emulator
        request_id = str(uuid.uuid4())
        parts = urlsplit(self.path)
        raw = self._read_body()
        if raw is None:
            return
        fault = emulator.next_fault(method, parts.path)
        if fault is not None and fault.kind in ("status", "drop"):
            status = 0 if fault.kind == "drop" else fault.status
            emulator.record(self, method, parts.path, status, raw, fault.kind)
            self._wait(arrived)
            if fault.kind == "drop":
                self._drop()
                return
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            problem = ApiProblem(
                fault.status,
                _fault_code(fault.status),
                _fault_title(fault.status),
                "Injected fault.",
            )
            self._respond(fault.status, flow_error(problem, request_id), headers, request_id)
            return
        try:
            status, body, headers = self._route(method, parts.path, parts.query, raw)
        except ApiProblem as problem:
            status, body, headers = problem.status, flow_error(problem, request_id), {}
        except GatewayError as gateway:
            status, body, headers = gateway.status, gateway.body, {}
        emulator.record(self, method, parts.path, status, raw, fault.kind if fault else None)
        self._wait(arrived)
        if fault is not None and fault.kind == "drop_after_write":
            self._drop()
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay or emulator.config.slow_delay)
        self._respond(status, body, headers, request_id)

    def _wait(self, arrived: float) -> None:
        """--latency-ms: the answer leaves that long after the request came in. The work is
        done inside that time, as a service's many servers would do it side by side: sleeping
        first and working after made parallel requests queue for this one process's GIL,
        a delay Flow Service does not have (about 3 ms more per request at 8 at once)."""
        left = arrived + self.server.emulator.config.latency_ms / 1000 - time.monotonic()
        if left > 0:
            time.sleep(left)

    def _read_body(self) -> bytes | None:
        """The body, or None after answering a request whose length is unusable (the
        connection is then closed: what follows on it cannot be framed)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._refuse(411, "411000", "Content-Length is required")
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():  # negative, non-numeric, several values
            return self._refuse(400, "400000", "Invalid Content-Length header")
        length = int(text)
        if length > self.server.emulator.config.max_body:
            return self._refuse(413, "413000", "Request too large")
        return self.rfile.read(length) if length else b""

    def _refuse(self, status: int, code: str, message: str) -> bytes | None:
        """Answer a request that cannot be read; None: nothing more to do with it."""
        self.close_connection = True
        body = {"error_code": code, "message": message}
        self._respond(status, body, {"Connection": "close"}, "")
        return None

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
        for prefix, service in (
            (FLOW_PREFIX, routes.flow_service),
            (CONVERSION_PREFIX, routes.conversion),
        ):
            if path.startswith(prefix + "/"):
                call = routes.Call(
                    method=method,
                    parts=path[len(prefix) :].strip("/").split("/"),
                    params=parse_qs(query, keep_blank_values=True),
                    caller=self._caller(),
                    if_match=self.headers.get("If-Match"),
                    body=lambda: self._json_body(raw),
                )
                return service(self.server.emulator.backend, call)
        raise ApiProblem(404, "1101", "Resource not found", f"No route for {path}.")

    def _caller(self) -> Caller:
        emulator = self.server.emulator
        auth = self.headers.get("Authorization")
        if not auth:
            raise GatewayError(403, "403010", "Oauth token is missing.")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GatewayError(401, "401013", "Oauth token is not valid")
        if emulator.config.strict and token.strip() not in emulator.config.issued_tokens:
            raise GatewayError(401, "401013", "Oauth token is not valid")
        api_key = self.headers.get("x-api-key")
        if not api_key:
            raise GatewayError(403, "403000", "Api Key is required")
        org = self.headers.get("x-gw-ims-org-id")
        if not org:
            raise GatewayError(400, "400003", "Missing header")
        sandbox = self.headers.get("x-sandbox-name")
        if not sandbox:
            # The sources conflict (default sandbox vs 2105-400); the strict answer is safer.
            raise ApiProblem(
                400,
                "2105",
                "Header is missing",
                "The header x-sandbox-name is missing in the request.",
            )
        emulator.backend.check_sandbox(sandbox)
        return Caller(org=org, sandbox=sandbox, client=api_key)

    def _json_body(self, raw: bytes) -> Any:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise GatewayError(
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


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _fault_code(status: int) -> str:
    return {429: "1429", 500: "1102", 502: "1104", 503: "1103", 504: "1104"}.get(status, "1102")


def _fault_title(status: int) -> str:
    return {429: "Too Many Requests", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
        status, "Internal Error"
    )


def flow_error(problem: ApiProblem, request_id: str) -> dict[str, Any]:
    # GUESS: Data Prep's problems are shaped like Flow Service's, with its CONV prefix.
    service = "CONV" if problem.kind == "mappingSets" else "FLOW"
    return {
        "type": f"https://ns.adobe.com/aep/errors/{service}-{problem.code}-{problem.status}",
        "title": problem.title,
        "status": problem.status,
        "report": {
            "detailed-message": problem.message,
            "request-id": request_id,
            "type": problem.kind,
        },
        "errorMessage": problem.message,
        "errorDetails": problem.message,
    }
