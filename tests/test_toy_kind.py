"""A kind is one module: a toy kind, written here and nowhere in flowplan, is planned and
applied by the generic engine against a small in-test server (create, no-op, in-place update,
replace, delete, and a reference to another toy resource created first and deleted last)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Hashable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flowplan.engine.applier import Applier
from flowplan.engine.changes import Action, Change
from flowplan.engine.prepare import make_plan
from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.settings import Settings
from flowplan.kinds.base import IdOf, Kind, KindContext
from flowplan.model import Address, Attrs, Desired, Manifest, Remote
from flowplan.references.resolver import Resolver
from flowplan.state.file import StateStore
from flowplan.state.writer import StateWriter

ORG = "TOY@AdobeOrg"


class WidgetKind(Kind):
    """`widgets:` entries {name, colour, size, parent?}: colour changes in place, size forces
    a replace, parent references another widget."""

    name = "widget"
    collection = "widgets"
    noun = "widget"

    def desired(self, ctx: KindContext) -> dict[str, Desired]:
        out: dict[str, Desired] = {}
        for key, entry in ctx.manifest.sections.get("widgets", {}).items():
            parent = entry.get("parent")
            requires = (Address("widget", parent),) if parent else ()
            parent_id = ctx.state_id(requires[0]) if requires else None
            attrs = {
                "name": entry["name"],
                "colour": entry["colour"],
                "size": entry["size"],
                "parentId": (parent_id or "(known after apply)") if parent else None,
            }
            out[key] = Desired(Address("widget", key), attrs, requires=requires)
        return out

    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        attrs = {k: item.get(k) for k in ("name", "colour", "size", "parentId")}
        return Remote(str(item["id"]), str(item.get("etag") or etag or ""), attrs)

    def identity(self, attributes: Attrs) -> Hashable | None:
        return attributes["name"]

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        return [f"name=={attributes['name']}"]

    def replace_reason(self, before: Attrs, after: Attrs) -> str:
        return "size" if before["size"] != after["size"] else ""

    def recorded(self, desired: Desired, id_of: IdOf) -> Attrs:
        if not desired.requires:
            return desired.attributes
        return {**desired.attributes, "parentId": id_of(desired.requires[0]).id}

    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        return dict(self.recorded(desired, id_of))

    def patch_ops(self, change: Change, desired: Desired, id_of: IdOf) -> list[dict[str, Any]]:
        return [{"op": "replace", "path": "/colour", "value": desired.attributes["colour"]}]


class WidgetServer(ThreadingHTTPServer):
    """Just enough of a Flow Service-shaped API for widgets, with a request log."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), WidgetHandler)
        self.widgets: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()


class WidgetHandler(BaseHTTPRequestHandler):
    server: WidgetServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = url.path.split("/")  # "", "flow", "widgets", id?
        wid = parts[3] if len(parts) > 3 else None
        with self.server.lock:
            self.server.log.append((method, url.path))
            widgets = self.server.widgets
            if method == "GET" and wid is None:
                found = list(widgets.values())
                for expression in parse_qs(url.query).get("property", []):
                    field, _, values = expression.partition("==")
                    found = [w for w in found if str(w.get(field)) in values.split(",")]
                self._answer(200, {"items": found, "_links": {}})
            elif method == "GET" and wid in widgets:
                self._answer(200, {"items": [widgets[wid]]})
            elif method == "POST":
                widget = {**self._body(), "id": uuid.uuid4().hex, "etag": '"1"'}
                widgets[widget["id"]] = widget
                self._answer(201, {"id": widget["id"], "etag": widget["etag"]})
            elif method == "PATCH" and wid in widgets:
                if self.headers.get("If-Match") != widgets[wid]["etag"]:
                    self._answer(412, {"message": "stale"})
                    return
                for op in self._body():
                    widgets[wid][op["path"].strip("/")] = op["value"]
                widgets[wid]["etag"] = f'"{int(widgets[wid]["etag"].strip(chr(34))) + 1}"'
                self._answer(200, {"id": wid, "etag": widgets[wid]["etag"]})
            elif method == "DELETE" and wid in widgets:
                if any(w.get("parentId") == wid for w in widgets.values()):
                    self._answer(400, {"message": "a widget still uses it"})
                    return
                del widgets[wid]
                self._answer(204)
            else:
                self._answer(404, {"message": "not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


@pytest.fixture
def server() -> Iterator[WidgetServer]:
    srv = WidgetServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def converge(server: WidgetServer, tmp: Path, widgets: dict[str, Any]) -> tuple[Change, ...]:
    """Plan the toy manifest with the toy kind alone, apply it, return the plan's changes."""
    host, port = server.server_address[:2]
    settings = Settings.from_env(
        {
            "FLOWPLAN_ENDPOINT": f"http://{host}:{port}/flow",
            "AEP_ACCESS_TOKEN": "toy-token",
            "AEP_API_KEY": "toy",
            "AEP_ORG_ID": ORG,
            "FLOWPLAN_RETRIES": "0",
        },
        "toys",
    )
    manifest = Manifest(tmp / "toys.yaml", "toys", {}, "0" * 64, sections={"widgets": widgets})
    store = StateStore(tmp / "toys.state.json")
    client = FlowServiceClient(settings)
    kind = WidgetKind()
    with store.lock():
        state = store.load(ORG, "toys")
        planned = make_plan(manifest, state, client, Resolver.from_os(tmp), kinds=[kind])
        writer = StateWriter(store, state)
        try:
            result = Applier(client, writer, {"widget": kind}, planned.desired, lambda e: None).run(
                planned.plan.actionable, parallelism=4
            )
        finally:
            writer.close()
    assert not result.failures
    return planned.plan.changes


def actions(changes: tuple[Change, ...]) -> dict[str, Action]:
    return {str(c.address): c.action for c in changes}


def test_a_kind_written_in_the_test_suite_plans_and_applies(
    server: WidgetServer, tmp_path: Path
) -> None:
    parent = {"name": "base", "colour": "red", "size": 1}
    child = {"name": "top", "colour": "blue", "size": 2, "parent": "base"}
    first = converge(server, tmp_path, {"base": parent, "top": child})
    assert actions(first) == {"widget.base": Action.CREATE, "widget.top": Action.CREATE}
    posts = [path for method, path in server.log if method == "POST"]
    assert len(posts) == 2
    (top,) = [w for w in server.widgets.values() if w["name"] == "top"]
    (base,) = [w for w in server.widgets.values() if w["name"] == "base"]
    assert top["parentId"] == base["id"]  # created after what it references

    assert set(actions(converge(server, tmp_path, {"base": parent, "top": child})).values()) == {
        Action.NOOP
    }

    recoloured = {**child, "colour": "green"}
    changes = converge(server, tmp_path, {"base": parent, "top": recoloured})
    assert actions(changes)["widget.top"] is Action.UPDATE
    assert top["id"] in server.widgets  # in place

    resized = {**parent, "size": 5}
    changes = converge(server, tmp_path, {"base": resized, "top": recoloured})
    assert actions(changes) == {"widget.base": Action.REPLACE, "widget.top": Action.REPLACE}
    assert top["id"] not in server.widgets  # the chain was replaced, the child first

    server.log.clear()
    changes = converge(server, tmp_path, {})
    assert set(actions(changes).values()) == {Action.DELETE}
    deletes = [path for method, path in server.log if method == "DELETE"]
    (new_top,) = [c.id for c in changes if c.key == "top"]
    assert deletes[0].endswith(str(new_top))  # what references goes first
    assert server.widgets == {}
    state = json.loads((tmp_path / "toys.state.json").read_text())
    assert "widgets" not in state  # an emptied section is not written
