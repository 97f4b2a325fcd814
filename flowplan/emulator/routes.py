"""Which call does what: Flow Service's and Data Prep's routes, over the Backend.

A route answers (status, body, headers) or raises ApiProblem; the server does the HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowplan.emulator.backend import Backend
from flowplan.emulator.listing import ListQuery, parse_filter
from flowplan.emulator.mappings import KIND as MAPPINGS
from flowplan.emulator.problems import ApiProblem, Caller, bad_request
from flowplan.emulator.specs import (
    DATA_LAKE_CONNECTION_SPEC,
    explore_root,
    explore_table,
    flow_specs,
)
from flowplan.flowservice.catalog import BUILTIN_TYPES, type_for_spec

FLOW_PREFIX = "/data/foundation/flowservice"
CONVERSION_PREFIX = "/data/foundation/conversion"
Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Call:
    method: str
    parts: list[str]  # the path's segments after the service prefix
    params: dict[str, list[str]]
    caller: Caller
    if_match: str | None
    body: Callable[[], Any]  # the JSON body, parsed (and checked) when a route needs it

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    @property
    def query(self) -> ListQuery:
        return ListQuery.from_params(self.params)


def not_allowed(call: Call, prefix: str = FLOW_PREFIX, kind: str = "connections") -> ApiProblem:
    path = prefix + "/" + "/".join(call.parts)
    return ApiProblem(
        405, "1101", "Method not allowed", f"{call.method} is not allowed on {path}.", kind
    )


def created(kind: str, answer: dict[str, Any]) -> Answer:
    return 201, answer, {"Location": f"{FLOW_PREFIX}/{kind}/{answer['id']}"}


def flow_service(backend: Backend, call: Call) -> Answer:
    head, rest = (call.parts[0] if call.parts else ""), call.parts[1:]
    handler = _FLOW_ROUTES.get(head)
    if handler is None:
        raise ApiProblem(404, "1101", "Resource not found", f"No route for /{head}.")
    return handler(backend, call, rest)


def _connections(backend: Backend, call: Call, rest: list[str]) -> Answer:
    store, m = backend.connections, call.method
    if not rest:
        if m == "GET":
            return 200, store.query(call.caller, call.query), {}
        if m == "POST":
            return created("connections", store.create(call.caller, call.body()))
    elif len(rest) == 1:
        if m == "GET":
            return 200, {"items": [store.get(call.caller, rest[0])]}, {}
        if m == "PATCH":
            return 200, store.patch(call.caller, rest[0], call.if_match, _patch_body(call)), {}
        if m == "DELETE":
            backend.delete_connection(call.caller, rest[0])
            return 204, None, {}
    elif len(rest) == 2 and m == "GET":
        record = store.get(call.caller, rest[0])
        if rest[1] == "test":
            return 200, {"result": True}, {}
        if rest[1] == "explore":
            return 200, _explore(record, call), {}
        if rest[1] == "configs":
            # GUESS: the OpenAPI's example lists a table's columns for sources that publish
            # configs; none of the built-in table sources does, so the emulator says so.
            raise bad_request(
                "1445",
                f"Configs are not supported for the connection spec "
                f"{record['connectionSpec']['id']} of connection {rest[0]}.",
            )
    raise not_allowed(call)


def _patch_body(call: Call) -> Any:
    """The JSON Patch array, or None without If-Match (so that 1403 is answered first)."""
    return call.body() if call.if_match else None


def _explore(record: dict[str, Any], call: Call) -> Any:
    ctype = type_for_spec(record["connectionSpec"]["id"])
    type_name = ctype.name if ctype else ""
    object_type = (call.one("objectType") or "root").lower()  # docs: lower; OpenAPI: upper
    if object_type == "root":
        return explore_root(type_name)
    if object_type == "table":
        table = call.one("object")
        if not table:
            raise bad_request(
                "1453", "The query parameter object is required with objectType=table."
            )
        described = explore_table(type_name, table)
        if described is None:
            raise ApiProblem(404, "1101", "Resource not found", f"The table {table} was not found.")
        return described
    if object_type in ("file", "folder", "rest"):
        # GUESS: the built-in sources are table-based; other object types do not apply.
        raise bad_request("1453", f"objectType={object_type} is not supported by this source.")
    raise bad_request("1453", f"Invalid query value objectType={object_type} provided")


def _connection_specs(backend: Backend, call: Call, rest: list[str]) -> Answer:
    if call.method != "GET" or len(rest) > 1:
        raise not_allowed(call)
    specs = [t.to_api() for t in BUILTIN_TYPES.values()] + [dict(DATA_LAKE_CONNECTION_SPEC)]
    return _specs(specs, rest, call, "connectionSpecs")


def _flow_specs(backend: Backend, call: Call, rest: list[str]) -> Answer:
    if call.method != "GET" or len(rest) > 1:
        raise not_allowed(call, kind="flowSpecs")
    return _specs(flow_specs(), rest, call, "flowSpecs")


def _specs(specs: list[dict[str, Any]], rest: list[str], call: Call, kind: str) -> Answer:
    if rest:
        found = [s for s in specs if s["id"] == rest[0].lower()]
        if not found:
            raise ApiProblem(
                404,
                "1101",
                "Resource not found",
                f"The requested {kind} resource {rest[0]} is not found.",
                kind,
            )
        return 200, {"items": found}, {}
    for expression in call.params.get("property", []):
        predicate = parse_filter(expression, kind)
        specs = [s for s in specs if predicate(s)]
    return 200, {"items": specs}, {}


def _pipeline(backend: Backend, call: Call, rest: list[str], kind: str) -> Answer:
    store = backend.sources if kind == "sourceConnections" else backend.targets
    m = call.method
    if not rest:
        if m == "GET":
            with backend.shared.lock:
                return 200, store.listing(call.caller, call.query), {}
        if m == "POST":
            return created(kind, store.create(call.caller, call.body()))
    elif len(rest) == 1:
        if m == "GET":
            return 200, {"items": [store.get(call.caller, rest[0])]}, {}
        if m == "PATCH":
            return 200, store.patch(call.caller, rest[0], call.if_match, _patch_body(call)), {}
        if m == "DELETE":
            if kind == "sourceConnections":
                backend.delete_source(call.caller, rest[0])
            else:
                backend.delete_target(call.caller, rest[0])
            return 204, None, {}
    raise not_allowed(call, kind=kind)


def _flows(backend: Backend, call: Call, rest: list[str]) -> Answer:
    flows, m = backend.flows, call.method
    if not rest:
        if m == "GET":
            with backend.shared.lock:
                return 200, flows.listing(call.caller, call.query), {}
        if m == "POST":
            return created("flows", flows.create(call.caller, call.body()))
    elif len(rest) == 1:
        if m == "GET":
            return 200, {"items": [flows.get(call.caller, rest[0])]}, {}
        if m == "PATCH":
            return 200, flows.patch(call.caller, rest[0], call.if_match, _patch_body(call)), {}
        if m == "DELETE":
            flows.delete(call.caller, rest[0])
            return 204, None, {}
    elif rest[1:] == ["action"] and m == "POST":
        return 200, flows.action(call.caller, rest[0], call.one("op")), {}
    raise not_allowed(call, kind="flows")


def _runs(backend: Backend, call: Call, rest: list[str]) -> Answer:
    if call.method != "GET" or len(rest) > 1:
        # GUESS: ad hoc runs (POST /runs) and RE_TRIGGER are not emulated.
        raise not_allowed(call, kind="runs")
    with backend.shared.lock:
        backend.flows.sync_runs(call.caller, None if rest else _named_flows(call))
        if rest:
            return 200, {"items": [backend.runs.get(call.caller, rest[0])]}, {}
        return 200, backend.runs.listing(call.caller, call.query), {}


def _named_flows(call: Call) -> list[str] | None:
    for expression in call.params.get("property", []):
        if expression.startswith("flowId=="):
            return [v.strip().strip('"') for v in expression[len("flowId==") :].split(",")]
    return None


_FLOW_ROUTES: dict[str, Callable[[Backend, Call, list[str]], Answer]] = {
    "connections": _connections,
    "connectionSpecs": _connection_specs,
    "sourceConnections": lambda b, c, r: _pipeline(b, c, r, "sourceConnections"),
    "targetConnections": lambda b, c, r: _pipeline(b, c, r, "targetConnections"),
    "flows": _flows,
    "flowSpecs": _flow_specs,
    "runs": _runs,
}


def conversion(backend: Backend, call: Call) -> Answer:
    """Data Prep: its own shapes (200 on create, bare sets, `data`/`_page` lists)."""
    store, parts, m = backend.mappings, call.parts, call.method
    if parts[:1] != [MAPPINGS] or len(parts) > 2:
        raise not_allowed(call, CONVERSION_PREFIX, MAPPINGS)
    if len(parts) == 1:
        if m == "GET":
            return 200, store.listing(call.caller, call.params), {}
        if m == "POST":
            return 200, store.create(call.caller, call.body()), {}
    else:
        if m == "GET":
            return 200, store.get(call.caller, parts[1], call.one("version")), {}
        if m == "PUT":
            return 200, store.put(call.caller, parts[1], call.body()), {}
    # No DELETE: Data Prep documents none (pipelines-api.md §2); 405 says so.
    raise not_allowed(call, CONVERSION_PREFIX, MAPPINGS)
