"""A local HTTP server that follows HashiCorp Vault's documented KV v2 read API.

Vault's own server cannot be installed on this machine (no Debian package, no download), so
the tests read secrets with the real client library (hvac) from this stand-in, which answers as
https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version documents:
`GET /v1/:mount/data/:path` with `X-Vault-Token`, answering `{"data": {"data": {…},
"metadata": {…}}}`, 404 `{"errors": []}` for an unknown path and 403
`{"errors": ["permission denied"]}` for a wrong token. It starts on loopback, port 0.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class FakeVault:
    def __init__(self, token: str) -> None:
        self.token = token
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def put(self, mount: str, path: str, data: dict[str, Any]) -> None:
        self.secrets[(mount, path)] = data

    def __enter__(self) -> FakeVault:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path).path.split("/")
        # /v1/<mount>/data/<path...>
        if len(parts) < 5 or parts[1] != "v1" or parts[3] != "data":
            return 404, {"errors": []}
        mount, secret_path = parts[2], "/".join(parts[4:])
        self.reads[f"{mount}/{secret_path}"] += 1
        if token != self.token:
            return 403, {"errors": ["permission denied"]}
        data = self.secrets.get((mount, secret_path))
        if data is None:
            return 404, {"errors": []}
        metadata = {
            "created_time": "2026-01-01T00:00:00.000000Z",
            "custom_metadata": None,
            "deletion_time": "",
            "destroyed": False,
            "version": 1,
        }
        return 200, {
            "request_id": "00000000-0000-0000-0000-000000000000",
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": {"data": data, "metadata": metadata},
            "wrap_info": None,
            "warnings": None,
            "auth": None,
        }


def _handler(vault: FakeVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, body = vault.answer(self.path, self.headers.get("X-Vault-Token"))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler
