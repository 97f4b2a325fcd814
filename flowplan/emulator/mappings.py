"""Data Prep mapping sets (`/data/foundation/conversion/mappingSets`), in Data Prep's own
shapes, not Flow Service's (shared/docs/pipelines-api.md §2, contract "Data Prep is not Flow
Service"): `POST` answers 200 with the new set's summary (no etag, no Location); `GET /{id}`
answers the bare set, `?version=N` an older one; lists are `{"data": [...], "_page": {...}}`
paged by `start`/`limit`; `PUT /{id}` writes a new version and takes no If-Match; there is no
DELETE (the emulator answers 405). Read back, an ATTRIBUTE mapping's sourceType is
`text/x.schema-path`, and each mapping carries the defaults Data Prep fills in.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from flowplan.emulator.listing import parse_filter
from flowplan.emulator.problems import ApiProblem, Caller
from flowplan.emulator.records import Record, Shared

KIND = "mappingSets"
SOURCE_TYPES = {"ATTRIBUTE": "text/x.schema-path", "EXPRESSION": "EXPRESSION"}  # GUESS: 2nd
XDM_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
MAX_LIMIT = 100  # GUESS: undocumented; aepp asks for 100
MAX_VERSIONS = 50  # a long-running emulator keeps at most this many versions of one set


def invalid(message: str) -> ApiProblem:
    # GUESS: Data Prep's error codes are not in our documents; CONV is its problem prefix.
    return ApiProblem(400, "2000", "Invalid request", message, KIND)


def missing(set_id: str, version: Any = None) -> ApiProblem:
    what = f"{set_id} version {version}" if version is not None else set_id
    return ApiProblem(404, "1101", "Resource not found", f"Mapping set {what} not found.", KIND)


class MappingSets:
    """Every mapping set (each a list of versions), per (org, sandbox)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self._data: dict[tuple[str, str], dict[str, list[Record]]] = {}

    def _bucket(self, caller: Caller) -> dict[str, list[Record]]:
        return self._data.setdefault((caller.org, caller.sandbox), {})

    def create(self, caller: Caller, body: Any) -> Record:
        with self.shared.lock:
            set_id = uuid.uuid4().hex
            record = self._build(caller, body, set_id, 0, None)
            self._bucket(caller)[set_id] = [record]
            return _summary(record)

    def put(self, caller: Caller, set_id: str, body: Any) -> Record:
        with self.shared.lock:
            versions = self._bucket(caller).get(set_id)
            if versions is None:
                raise missing(set_id)
            record = self._build(caller, body, set_id, versions[-1]["version"] + 1, versions[0])
            versions.append(record)
            del versions[1:-MAX_VERSIONS]  # keep the first (creation facts) and the newest
            return copy.deepcopy(record)

    def get(self, caller: Caller, set_id: str, version: str | None = None) -> Record:
        with self.shared.lock:
            versions = self._bucket(caller).get(set_id)
            if versions is None:
                raise missing(set_id)
            if version is None:
                return copy.deepcopy(versions[-1])
            found = [v for v in versions if str(v["version"]) == version]
            if not found:
                raise missing(set_id, version)
            return copy.deepcopy(found[0])

    def latest_version(self, caller: Caller, set_id: str) -> int | None:
        versions = self._bucket(caller).get(set_id)
        return None if versions is None else int(versions[-1]["version"])

    def listing(self, caller: Caller, params: Mapping[str, list[str]]) -> Record:
        start = _int_param(params, "start", 0)
        limit = min(_int_param(params, "limit", MAX_LIMIT), MAX_LIMIT)
        if limit < 1:
            raise invalid("limit must be at least 1.")
        predicates = [parse_filter(f, KIND) for f in params.get("property", [])]
        with self.shared.lock:
            latest = [v[-1] for v in self._bucket(caller).values()]
            matching = [r for r in latest if all(p(r) for p in predicates)]
            matching.sort(key=lambda r: (r["createdDate"], r["id"]))
            page = matching[start : start + limit]
            return {
                "data": copy.deepcopy(page),
                # GUESS: the _page fields; Data Prep's docs show only that it exists.
                "_page": {"start": start, "limit": limit, "count": len(page)},
            }

    def _build(
        self, caller: Caller, body: Any, set_id: str, version: int, first: Record | None
    ) -> Record:
        if not isinstance(body, dict) or not body:
            raise invalid("The request body cannot be null or empty.")
        schema = _schema_id(body) or (first["xdmSchema"] if first else None)
        if not schema:
            raise invalid("xdmSchema (or outputSchema.schemaRef.id) is required.")
        raw = body.get("mappings")
        if not isinstance(raw, list) or not raw:
            raise invalid("mappings must be a non-empty list.")
        now = self.shared.clock.now_ms()
        user = f"{caller.client}@AdobeID"
        stamp = {
            "createdDate": first["createdDate"] if first else now,
            "modifiedDate": now,
            "createdBy": first["createdBy"] if first else user,
            "modifiedBy": user,
        }
        return {
            "id": set_id,
            "version": version,
            **stamp,
            "xdmSchema": schema,
            "xdmVersion": str(body.get("xdmVersion") or "1.0"),
            "outputSchema": {"schemaRef": {"id": schema, "contentType": XDM_CONTENT_TYPE}},
            "inputSchema": body.get("inputSchema"),
            "mappings": [_mapping(m, i, version, stamp) for i, m in enumerate(raw)],
            "status": "PUBLISHED",  # GUESS: the status filter aepp documents
        }


def _schema_id(body: Record) -> str | None:
    if isinstance(body.get("xdmSchema"), str) and body["xdmSchema"]:
        return str(body["xdmSchema"])
    ref = (body.get("outputSchema") or {}).get("schemaRef") or {}
    value = ref.get("id") if isinstance(ref, dict) else None
    return value if isinstance(value, str) and value else None


def _mapping(raw: Any, index: int, version: int, stamp: Record) -> Record:
    if not isinstance(raw, dict):
        raise invalid(f"mappings[{index}] must be an object.")
    source = raw.get("source", raw.get("sourceAttribute"))  # the newer form, or the older one
    destination = raw.get("destination", raw.get("destinationXdmPath"))
    if not isinstance(source, str) or not source or not isinstance(destination, str):
        raise invalid(f"mappings[{index}] needs a source and a destination.")
    given = raw.get("sourceType", "ATTRIBUTE")
    source_type = SOURCE_TYPES.get(str(given).upper(), given)
    if source_type not in SOURCE_TYPES.values():
        raise invalid(f"mappings[{index}].sourceType {given!r} is not ATTRIBUTE or EXPRESSION.")
    return {
        "id": uuid.uuid4().hex,
        "version": version,
        **stamp,
        "sourceType": source_type,
        "source": source,
        "destination": destination,
        "name": raw.get("name", destination),
        "description": raw.get("description"),
        "identity": bool(raw.get("identity", False)),
        "identityGroup": raw.get("identityGroup"),
        "namespaceCode": raw.get("namespaceCode"),
        "primaryIdentity": bool(raw.get("primaryIdentity", False)),
        "functionVersion": 0,
        "copyModeMapping": False,
        "sourceAttribute": source,
        "destinationXdmPath": destination,
    }


def _summary(record: Record) -> Record:
    keys = ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")
    return {k: record[k] for k in keys}


def _int_param(params: Mapping[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise invalid(f"{name} must be an integer.") from None
    if value < 0:
        raise invalid(f"{name} must not be negative.")
    return value
