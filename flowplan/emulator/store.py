"""The emulator's in-memory Flow Service: connections per (org, sandbox), as the API keeps them.

Faithful to shared/docs/flow-service-api.md; where the sources are silent the choice is marked
GUESS. Raises `ApiProblem`, which the server turns into the FLOW problem body.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jsonpatch
from jsonschema import Draft7Validator

from flowplan.flowservice.catalog import BY_SPEC_ID, ConnectionType

SECRET_MASK = "********"  # noqa: S105 - GUESS: the API shows "a partial view of the credentials"
MAX_LIMIT = 100
DEFAULT_LIMIT = 20  # GUESS: undocumented; aepp asks for 20
PATCHABLE = {"/name", "/description", "/auth/params"}
MAX_CACHED_LISTINGS = 64  # a long-running emulator must not grow without bound


class ApiProblem(Exception):
    """An API error: status, FLOW code (as in the Flow Service error table) and message."""

    def __init__(self, status: int, code: str, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.title, self.message = status, code, title, message


def bad_request(code: str, message: str) -> ApiProblem:
    return ApiProblem(400, code, "Invalid request", message)


def not_found(conn_id: str) -> ApiProblem:
    # GUESS: FSE 1101-404 for connections; the documented example is for flows.
    return ApiProblem(
        404,
        "1101",
        "Resource not found",
        f"The requested connections resource {conn_id} is not found. "
        "Verify the resource ID before trying again.",
    )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a call, from the request's headers."""

    org: str
    sandbox: str
    client: str  # the x-api-key (IMS client id)


class FlowStore:
    """All connections, keyed by (org, sandbox). Thread-safe."""

    def __init__(self, specs: Mapping[str, ConnectionType] = BY_SPEC_ID) -> None:
        self._lock = threading.RLock()
        self._specs = specs
        self._data: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._sandbox_ids: dict[tuple[str, str], str] = {}
        self._counter = itertools.count(1)
        self._writes = 0  # bumped on every change; keys the listing cache
        self._listing: dict[tuple[Any, ...], tuple[int, list[tuple[Any, ...]], list[str]]] = {}

    # --- helpers ------------------------------------------------------------------------------

    def _bucket(self, caller: Caller) -> dict[str, dict[str, Any]]:
        key = (caller.org, caller.sandbox)
        if key not in self._data:
            self._data[key] = {}
            self._sandbox_ids[key] = str(uuid.uuid4())
        return self._data[key]

    def _etag(self) -> str:
        # Format of every documented example: "xxxxxxxx-0000-0200-0000-xxxxxxxx0000", quotes kept.
        n = next(self._counter)
        return f'"{n:08x}-0000-0200-0000-{int(time.time()) & 0xFFFFFFFF:08x}0000"'

    def _changed(self) -> None:
        self._writes += 1

    def _touch(self, record: dict[str, Any], client: str) -> None:
        self._changed()
        record["updatedAt"] = _now_ms()
        record["updatedBy"] = f"{client}@AdobeID"
        record["updatedClient"] = client
        record["etag"] = record["version"] = self._etag()

    def _spec(self, spec_id: Any) -> ConnectionType:
        spec = self._specs.get(str(spec_id).lower()) if isinstance(spec_id, str) else None
        if spec is None:
            raise bad_request("1413", "The spec ID provided is invalid.")
        return spec

    def _check_params(self, spec: ConnectionType, spec_name: Any, params: Any) -> None:
        auth_spec = spec.auth_spec(spec_name) if isinstance(spec_name, str) else None
        if auth_spec is None:
            raise bad_request(
                "1415",
                f"The auth spec '{spec_name}' could not be found for the connection spec ID "
                f"{spec.spec_id}.",
            )
        if not isinstance(params, dict):
            raise bad_request("1406", "auth.params must be an object.")  # GUESS: code
        errors = sorted(Draft7Validator(dict(auth_spec.schema)).iter_errors(params), key=str)
        if errors:
            # GUESS: the API validates params against the auth spec; the code is not documented.
            # The message names the rule and the param, never the value (it may be a secret).
            where = "/".join(str(p) for p in errors[0].absolute_path) or "params"
            first = errors[0]
            detail = first.message if first.validator == "required" else "invalid value"
            raise bad_request("1406", f"Invalid auth params at {where}: {detail}")

    def _public(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as GET returns it: secret params (format: password) masked.

        A shallow copy of the two nested objects is enough: values are JSON scalars, and
        deepcopy was most of the cost of listing 10,000 connections."""
        spec = self._specs.get(record["connectionSpec"]["id"])
        auth_spec = spec.auth_spec(record["auth"]["specName"]) if spec else None
        secret = auth_spec.secret_params if auth_spec else frozenset()
        params = {k: SECRET_MASK if k in secret else v for k, v in record["auth"]["params"].items()}
        out = dict(record)
        out["auth"] = {"specName": record["auth"]["specName"], "params": params}
        out["connectionSpec"] = dict(record["connectionSpec"])
        return out

    # --- operations ---------------------------------------------------------------------------

    def create(self, caller: Caller, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body:
            raise bad_request("1405", "The request body cannot be null or empty.")
        spec_info = body.get("connectionSpec")
        if not isinstance(spec_info, dict):
            raise bad_request("1413", "The spec ID provided is invalid.")
        spec = self._spec(spec_info.get("id"))
        version = spec_info.get("version", spec.version)  # SW: omitted = the latest
        if version != spec.version:
            raise ApiProblem(400, "1420", "Version not matching", f"Unknown version {version!r}.")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request("1406", "The connection name is required.")  # GUESS: code
        auth = body.get("auth")
        if not isinstance(auth, dict):
            raise bad_request("1406", "auth is required.")
        self._check_params(spec, auth.get("specName"), auth.get("params"))
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise bad_request("1406", "description must be a string.")
        with self._lock:
            bucket = self._bucket(caller)
            now = _now_ms()
            record: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "createdAt": now,
                "updatedAt": now,
                "createdBy": f"{caller.client}@AdobeID",
                "updatedBy": f"{caller.client}@AdobeID",
                "createdClient": caller.client,
                "updatedClient": caller.client,
                "sandboxId": self._sandbox_ids[(caller.org, caller.sandbox)],
                "sandboxName": caller.sandbox,
                "imsOrgId": caller.org,
                "name": name,
                "connectionSpec": {"id": spec.spec_id, "version": spec.version},
                "state": "enabled",
                "auth": {"specName": auth["specName"], "params": copy.deepcopy(auth["params"])},
            }
            if description is not None:
                record["description"] = description
            record["etag"] = record["version"] = self._etag()
            bucket[record["id"]] = record
            self._changed()
            return {"id": record["id"], "etag": record["etag"]}

    def get(self, caller: Caller, conn_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._bucket(caller).get(conn_id)
            if record is None:
                raise not_found(conn_id)
            return self._public(record)

    def stored(self, caller: Caller, conn_id: str) -> dict[str, Any]:
        """The full record, secrets included (in-process test API only)."""
        with self._lock:
            record = self._bucket(caller).get(conn_id)
            if record is None:
                raise not_found(conn_id)
            return copy.deepcopy(record)

    def all(self, caller: Caller) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(r) for r in self._bucket(caller).values()]

    def patch(self, caller: Caller, conn_id: str, if_match: str | None, ops: Any) -> dict[str, Any]:
        if not if_match:
            raise bad_request(
                "1403",
                "The header 'If-Match' is missing in the request. "
                "Please provide the header and try again.",
            )
        if not isinstance(ops, list) or not ops:
            raise bad_request("1405", "The request body cannot be null or empty.")
        normalized = [_normalize_op(op) for op in ops]
        with self._lock:
            record = self._bucket(caller).get(conn_id)
            if record is None:
                raise not_found(conn_id)
            if if_match != record["etag"]:
                raise ApiProblem(
                    412,
                    "1404",
                    "Version not matching",
                    f"The supplied version '{if_match}' does not match the current version on "
                    f"entity {record['etag']}.",
                )
            editable = {
                "name": record["name"],
                "auth": {"params": record["auth"]["params"]},
            }
            if "description" in record:
                editable["description"] = record["description"]
            try:
                changed = jsonpatch.apply_patch(editable, normalized)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise bad_request(
                    "1455", f"An error has occurred while validating patch instructions: {exc}"
                ) from None
            if not isinstance(changed.get("name"), str) or not changed["name"]:
                raise bad_request("1455", "The connection name cannot be removed.")
            spec = self._spec(record["connectionSpec"]["id"])
            self._check_params(spec, record["auth"]["specName"], changed["auth"].get("params"))
            record["name"] = changed["name"]
            record["auth"]["params"] = changed["auth"]["params"]
            if "description" in changed:
                record["description"] = changed["description"]
            else:
                record.pop("description", None)
            self._touch(record, caller.client)
            return {"id": record["id"], "etag": record["etag"]}

    def delete(self, caller: Caller, conn_id: str) -> None:
        with self._lock:
            if self._bucket(caller).pop(conn_id, None) is None:
                raise not_found(conn_id)
            self._changed()

    def modify_out_of_band(
        self, caller: Caller, conn_id: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Change a record as another user would (test API): new etag, updatedBy."""
        with self._lock:
            record = self._bucket(caller)[conn_id]
            change(record)
            self._touch(record, caller.client)
            return copy.deepcopy(record)

    def query(
        self,
        caller: Caller,
        filters: Iterable[str],
        limit: str | None,
        token: str | None,
        orderby: str | None,
        count: str | None,
    ) -> dict[str, Any]:
        predicates = [parse_filter(f) for f in filters]
        order = parse_orderby(orderby)
        with self._lock:
            bucket = self._bucket(caller)
            if _truthy(count):
                if limit is not None:
                    raise bad_request(
                        "1401", "The limit and count parameters cannot be given together"
                    )
                return {"count": sum(1 for r in bucket.values() if all(p(r) for p in predicates))}
            size = _page_size(limit)
            keys, ids = self._ordered(caller, tuple(filters), order, predicates)
            if order.descending:
                end = bisect.bisect_left(keys, tuple(_decode_token(token))) if token else len(keys)
                start = max(end - size, 0)
                page_ids, more = list(reversed(ids[start:end])), start > 0
            else:
                start = bisect.bisect_right(keys, tuple(_decode_token(token))) if token else 0
                page_ids, more = ids[start : start + size], start + size < len(ids)
            page = [bucket[i] for i in page_ids]
            body: dict[str, Any] = {"items": [self._public(r) for r in page]}
            if more:
                params = [
                    ("continuationToken", _encode_token(order.position(page[-1]))),
                    ("limit", str(size)),
                    *(("property", f) for f in filters),
                    *((("orderby", orderby),) if orderby else ()),
                ]
                body["_links"] = {"next": {"href": f"/connections?{urlencode(params)}"}}
            return body

    def _ordered(
        self,
        caller: Caller,
        filters: tuple[str, ...],
        order: _Order,
        predicates: list[Callable[[Mapping[str, Any]], bool]],
    ) -> tuple[list[tuple[Any, ...]], list[str]]:
        """The matching connections' sort keys and ids, ascending; kept until the next write,
        so paging through N connections costs O(N log N) once, not O(N) per page."""
        cache_key = (caller.org, caller.sandbox, filters, order.fields)
        cached = self._listing.get(cache_key)
        if cached is not None and cached[0] == self._writes:
            return cached[1], cached[2]
        bucket = self._bucket(caller)
        named = _by_ids(bucket, filters)
        candidates = bucket.values() if named is None else named
        entries = sorted(
            (order.key(r), r["id"]) for r in candidates if all(p(r) for p in predicates)
        )
        keys, ids = [k for k, _ in entries], [i for _, i in entries]
        if named is not None:  # an id== answer is cheap: not worth keeping
            return keys, ids
        if len(self._listing) >= MAX_CACHED_LISTINGS:
            self._listing.clear()
        self._listing[cache_key] = (self._writes, keys, ids)
        return keys, ids


def _by_ids(
    bucket: dict[str, dict[str, Any]], filters: tuple[str, ...]
) -> list[dict[str, Any]] | None:
    """Records an `id==a,b` filter names, looked up directly as a service's index would; None
    when no filter names ids. The filter itself is still applied to the result."""
    for expression in filters:
        if expression.startswith("id=="):
            ids = (v.strip().strip('"') for v in expression[len("id==") :].split(","))
            return [bucket[i] for i in dict.fromkeys(ids) if i in bucket]
    return None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def _page_size(limit: str | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    try:
        size = int(limit)
    except ValueError:
        raise bad_request("1453", f"Invalid query value limit={limit} provided") from None
    if size < 1:
        raise bad_request("1453", f"Invalid query value limit={limit} provided")
    return min(size, MAX_LIMIT)


def _normalize_op(op: Any) -> dict[str, Any]:
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise bad_request("1455", "Each patch instruction needs 'op' and 'path'.")
    name = op["op"].lower()
    if name not in ("add", "replace", "remove"):
        raise bad_request("1434", f"Unsupported operation '{op['op']}' received")
    path = op.get("path")
    if path == "/connectionSpec" or (isinstance(path, str) and path.startswith("/connectionSpec/")):
        raise bad_request("1414", "The connection spec of a connection cannot be updated.")
    if path not in PATCHABLE:
        field = str(path).strip("/").split("/")[0] if path else ""
        raise bad_request(
            "1455",
            f'An error has occurred while validating patch instructions: Missing field "{field}".',
        )
    out = {"op": name, "path": path}
    if name != "remove":
        if "value" not in op:
            raise bad_request("1455", f"Patch instruction '{name}' on {path} needs a value.")
        out["value"] = op["value"]
    return out


# --- listing: filters, order, continuation tokens ----------------------------------------------


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def parse_filter(expression: str) -> Callable[[Mapping[str, Any]], bool]:
    """`property=` grammar: path==a,b (OR) and >, <, >=, <= on one value."""
    if "~" in expression:
        raise bad_request("1440", f"The operator '~' is not implemented: {expression}")
    for op in ("==", ">=", "<=", "!=", ">", "<"):
        field, sep, raw = expression.partition(op)
        if sep:
            break
    else:
        raise bad_request("1453", f"Invalid query value {expression} provided")
    if op == "!=" or not field:
        raise bad_request("1450", f"Invalid operator in {expression}")
    values = [v.strip().strip('"') for v in raw.split(",")]
    if op == "==":
        wanted = set(values)
        return lambda r: str(_lookup(r, field)) in wanted
    if len(values) != 1:
        raise bad_request("1443", f"The operator '{op}' takes a single value: {expression}")
    if field == "id":
        raise bad_request("1448", f"The operator '{op}' cannot be used on id")
    bound = values[0]

    def compare(record: Mapping[str, Any]) -> bool:
        value = _lookup(record, field)
        if value is None:
            return False
        try:
            left, right = float(value), float(bound)
        except (TypeError, ValueError):
            left, right = str(value), bound  # type: ignore[assignment]
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]

    return compare


@dataclass(frozen=True, slots=True)
class _Order:
    fields: tuple[str, ...]
    descending: bool

    def key(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        return (*(_sortable(_lookup(record, f)) for f in self.fields), record["id"])

    def position(self, record: Mapping[str, Any]) -> list[Any]:
        return list(self.key(record))


def _sortable(value: Any) -> Any:
    return "" if value is None else value


SORTABLE = {"name", "createdAt", "updatedAt", "id", "description", "state"}


def parse_orderby(orderby: str | None) -> _Order:
    """Default: most recently created or updated first (SWD). Keyset-paged, so no item is
    skipped or repeated by a page boundary when others are added or deleted meanwhile."""
    if not orderby:
        return _Order(("updatedAt",), True)
    fields = []
    descending = None
    for part in orderby.split(","):
        part = part.strip()
        sign = "+"
        if part[:1] in "+-":
            sign, part = part[0], part[1:]
        elif part[:1] and not part[0].isalpha():
            raise bad_request("1432", f"Invalid orderby prefix in '{orderby}'")
        if part not in SORTABLE:
            raise bad_request(
                "1433", f"Invalid orderby field '{part}'; example are +name, -name, name"
            )
        fields.append(part)
        descending = sign == "-" if descending is None else descending
    return _Order(tuple(fields), bool(descending))


def _encode_token(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_token(token: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise bad_request("1453", f"Invalid query value continuationToken={token}") from None
    if not isinstance(value, list):
        raise bad_request("1453", f"Invalid query value continuationToken={token}")
    return value
