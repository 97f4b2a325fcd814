"""A small scriptable HTTP server on 127.0.0.1 (port 0) for the client's tests, and helpers.

Each test gives a `route(request) -> Reply` function; a Reply is a status, headers and a body,
or `raw` bytes written to the socket as they are, optionally one byte every `trickle` seconds
(a server that never quite finishes). Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.settings import Settings

ORG = "FAKEORG@AdobeOrg"
TOKEN = "FAKE-TOKEN-0123456789abcdef"
FLOW = "/data/foundation/flowservice"
PREP = "/data/foundation/conversion"


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes or str
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # written verbatim instead (status/body/headers ignored)
    trickle: float = 0.0  # seconds between bytes of `raw`
    prefix: bytes = b""  # written at once before `raw`
    close: bool = False  # drop the connection without answering


def ok(body: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, body, dict(headers))


Route = Callable[[Request], Reply]


class FakeServer:
    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[Request] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    parse_qsl(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                fake.requests.append(request)
                fake.write(self, fake.route(request))

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @staticmethod
    def write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.close:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.raw is not None:
            handler.close_connection = True
            try:
                handler.wfile.write(reply.prefix)
                handler.wfile.flush()
                if not reply.trickle:
                    handler.wfile.write(reply.raw)
                for byte in reply.raw if reply.trickle else b"":
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(reply.trickle)
            except OSError:
                pass
            return
        if isinstance(reply.body, bytes):
            data = reply.body
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client may drop an answer it will not read
            handler.wfile.write(data)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self, **env: str) -> Settings:
        return fake_settings(self.base, **env)

    def client(self, **env: str) -> FlowServiceClient:
        return FlowServiceClient(self.settings(**env))


def fake_settings(base: str, **env: str) -> Settings:
    values = {
        "FLOWPLAN_ENDPOINT": base + FLOW,
        "FLOWPLAN_IMS_ENDPOINT": base + "/ims/token/v3",
        "AEP_ACCESS_TOKEN": TOKEN,
        "AEP_API_KEY": "api-key",
        "AEP_ORG_ID": ORG,
        "AEP_SANDBOX_NAME": "prod",
        "FLOWPLAN_BACKOFF": "0",
        "FLOWPLAN_RETRIES": "2",
        **env,
    }
    return Settings.from_env({k: v for k, v in values.items() if v})


@pytest.fixture(name="serve")
def serve_fixture() -> Iterator[Callable[[Route], FakeServer]]:
    """serve(route) starts a FakeServer for the test; all are stopped at its end."""
    started: list[FakeServer] = []

    def start(route: Route) -> FakeServer:
        server = FakeServer(route).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
