"""Source and target connections (`/sourceConnections`, `/targetConnections`).

Request rules from the OpenAPI (`CreateSourceConnectionRequest` requires connectionSpec, data,
name; `CreateTargetConnectionRequest` connectionSpec, data) and the sources tutorials
(shared/docs/pipelines-api.md). Whether a dataflow still uses one is the backend's rule.
"""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft7Validator

from flowplan.emulator.problems import Caller, bad_request
from flowplan.emulator.records import (
    Record,
    Resources,
    Shared,
    apply_ops,
    normalize_ops,
    optional_text,
    require_name,
)
from flowplan.emulator.specs import DATA_LAKE_CONNECTION_SPEC, DATA_LAKE_SPEC
from flowplan.emulator.store import FlowStore

PATCHABLE = {"/name", "/description"}  # GUESS: what Adobe's update tutorials name; the rest 1455
XDM_FULL = "application/vnd.adobe.xed-full+json;version=1"
TARGET_FORMAT = "parquet_xdm"  # GUESS: the tutorials' and aepp's default for the Data Lake


def _spec_info(body: Record, kind: str) -> tuple[str, str]:
    info = body.get("connectionSpec")
    if not isinstance(info, dict) or not isinstance(info.get("id"), str):
        raise bad_request("1413", "The spec ID provided is invalid.", kind)
    version = info.get("version", "1.0")
    if not isinstance(version, str):
        raise bad_request("1413", "The spec version provided is invalid.", kind)
    return info["id"].lower(), version


def _object(body: Record, key: str, kind: str, *, required: bool) -> Record:
    value = body.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise bad_request("1406", f"'{key}' is required and must be an object.", kind)
    return copy.deepcopy(value)


class _Connections(Resources):
    """What sources and targets share: read, patch name/description, delete."""

    def get(self, caller: Caller, resource_id: str) -> Record:
        with self.shared.lock:
            return copy.deepcopy(self.find(caller, resource_id))

    def patch(self, caller: Caller, resource_id: str, if_match: str | None, ops: Any) -> Record:
        if not if_match:
            self.check_if_match({"etag": None}, if_match)
        normalized = normalize_ops(ops, PATCHABLE.__contains__, self.kind)
        with self.shared.lock:
            record = self.find(caller, resource_id)
            self.check_if_match(record, if_match)
            editable: Record = {k: record[k] for k in ("name", "description") if k in record}
            changed = apply_ops(editable, normalized, self.kind)
            if "name" in record and not isinstance(changed.get("name"), str):
                raise bad_request("1455", "The name cannot be removed.", self.kind)
            for key in ("name", "description"):
                if key in changed:
                    record[key] = changed[key]
                else:
                    record.pop(key, None)
            self.touch(record, caller.client)
            return {"id": record["id"], "etag": record["etag"]}

    def _created(self, caller: Caller, fields: Record) -> Record:
        with self.shared.lock:
            record = self.new(caller, {k: v for k, v in fields.items() if v is not None})
            return {"id": record["id"], "etag": record["etag"]}


class SourceConnections(_Connections):
    def __init__(self, shared: Shared, connections: FlowStore) -> None:
        super().__init__("sourceConnections", shared)
        self.connections = connections

    def create(self, caller: Caller, body: Any) -> Record:
        kind = self.kind
        if not isinstance(body, dict) or not body:
            raise bad_request("1405", "The request body cannot be null or empty.", kind)
        name = require_name(body, "source connection")
        spec_id, version = _spec_info(body, kind)
        data = _object(body, "data", kind, required=True)
        if not isinstance(data.get("format"), str) or not data["format"]:
            raise bad_request("1406", "data.format is required.", kind)  # GUESS: code
        params = _object(body, "params", kind, required=False)
        base_id = body.get("baseConnectionId")
        with self.shared.lock:
            inherited = None
            if base_id is not None:
                base = self.connections.bucket(caller).get(str(base_id))
                if base is None:
                    # GUESS: code; the docs say only that the base connection must exist.
                    raise bad_request(
                        "1416", f"The base connection with the ID {base_id} was not found.", kind
                    )
                if base["connectionSpec"]["id"] != spec_id:
                    raise bad_request(
                        "1413",
                        f"The connection spec {spec_id} is not the spec of base connection "
                        f"{base_id} ({base['connectionSpec']['id']}).",
                        kind,
                    )
                inherited = {
                    "baseConnection": {"id": base_id, "connectionSpec": base["connectionSpec"]}
                }
            else:
                self.connections.spec(spec_id)  # a known source spec, else 1413
            return self._created(
                caller,
                {
                    "name": name,
                    "description": optional_text(body, "description", kind),
                    "baseConnectionId": base_id,
                    "state": "enabled",
                    "data": data,
                    "connectionSpec": {"id": spec_id, "version": version},
                    "params": params,
                    "inheritedAttributes": inherited,
                },
            )


class TargetConnections(_Connections):
    def __init__(self, shared: Shared) -> None:
        super().__init__("targetConnections", shared)

    def create(self, caller: Caller, body: Any) -> Record:
        kind = self.kind
        if not isinstance(body, dict) or not body:
            raise bad_request("1405", "The request body cannot be null or empty.", kind)
        spec_id, version = _spec_info(body, kind)
        if spec_id != DATA_LAKE_SPEC:
            raise bad_request("1413", "The spec ID provided is invalid.", kind)
        data = _object(body, "data", kind, required=True)
        params = _object(body, "params", kind, required=False)
        errors = list(
            Draft7Validator(DATA_LAKE_CONNECTION_SPEC["targetSpec"]["spec"]).iter_errors(params)
        )
        if errors:
            raise bad_request("1406", f"Invalid target params: {errors[0].message}", kind)
        schema = data.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("id"), str):
            # GUESS: the Data Lake needs the dataset's XDM schema (every tutorial sends it).
            raise bad_request("1406", "data.schema.id is required for the Data Lake.", kind)
        schema.setdefault("version", XDM_FULL)
        data.setdefault("format", TARGET_FORMAT)
        name = body.get("name")
        if name is not None:
            name = require_name(body, "target connection")
        return self._created(
            caller,
            {
                "name": name,
                "description": optional_text(body, "description", kind),
                "state": "enabled",
                "data": data,
                "connectionSpec": {"id": spec_id, "version": version},
                "params": params,
            },
        )
