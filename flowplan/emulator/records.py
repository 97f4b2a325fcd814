"""What every Flow Service kind keeps alike: records per (org, sandbox), the common metadata
(`createdAt`, `updatedBy`, `sandboxId`, …), quoted etags, If-Match, listing."""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

from flowplan.emulator.listing import Lister, ListQuery
from flowplan.emulator.problems import ApiProblem, Caller, Clock, bad_request, not_found

Record = dict[str, Any]


@dataclass
class Shared:
    """State every kind shares: one lock (cross-kind rules read several kinds at once), the
    clock, each sandbox's id, and the etag counter."""

    clock: Clock = field(default_factory=Clock)
    lock: threading.RLock = field(default_factory=threading.RLock)
    sandbox_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def etag(self) -> str:
        # Format of every documented example: "xxxxxxxx-0000-0200-0000-xxxxxxxx0000", quotes kept.
        n = next(self.counter)
        return f'"{n:08x}-0000-0200-0000-{int(self.clock.now()) & 0xFFFFFFFF:08x}0000"'

    def sandbox_id(self, caller: Caller) -> str:
        return self.sandbox_ids.setdefault((caller.org, caller.sandbox), str(uuid.uuid4()))


class Resources:
    """One kind's records (kind = its path segment, e.g. `sourceConnections`)."""

    def __init__(self, kind: str, shared: Shared) -> None:
        self.kind = kind
        self.shared = shared
        self.lister = Lister(kind)
        self.writes = 0  # bumped on every change; keys the listing cache
        self._data: dict[tuple[str, str], dict[str, Record]] = {}

    def bucket(self, caller: Caller) -> dict[str, Record]:
        return self._data.setdefault((caller.org, caller.sandbox), {})

    def new(self, caller: Caller, fields: Record) -> Record:
        """A new record with the common metadata, stored; the caller holds the lock."""
        now = self.shared.clock.now_ms()
        user = f"{caller.client}@AdobeID"
        record: Record = {
            "id": str(uuid.uuid4()),
            "createdAt": now,
            "updatedAt": now,
            "createdBy": user,
            "updatedBy": user,
            "createdClient": caller.client,
            "updatedClient": caller.client,
            "sandboxId": self.shared.sandbox_id(caller),
            "sandboxName": caller.sandbox,
            "imsOrgId": caller.org,
            **fields,
        }
        record["etag"] = record["version"] = self.shared.etag()
        self.bucket(caller)[record["id"]] = record
        self.writes += 1
        return record

    def touch(self, record: Record, client: str) -> None:
        self.writes += 1
        record["updatedAt"] = self.shared.clock.now_ms()
        record["updatedBy"] = f"{client}@AdobeID"
        record["updatedClient"] = client
        record["etag"] = record["version"] = self.shared.etag()

    def find(self, caller: Caller, resource_id: str) -> Record:
        record = self.bucket(caller).get(resource_id)
        if record is None:
            raise not_found(resource_id, self.kind)
        return record

    def remove(self, caller: Caller, resource_id: str) -> None:
        if self.bucket(caller).pop(resource_id, None) is None:
            raise not_found(resource_id, self.kind)
        self.writes += 1

    def listing(
        self, caller: Caller, query: ListQuery, public: Callable[[Record], Record] | None = None
    ) -> Record:
        scope = (caller.org, caller.sandbox)
        return self.lister.page(
            scope, self.bucket(caller), self.writes, query, public or copy.deepcopy
        )

    def all(self, caller: Caller) -> list[Record]:
        return [copy.deepcopy(r) for r in self.bucket(caller).values()]

    def check_if_match(self, record: Record, if_match: str | None) -> None:
        if not if_match:
            raise bad_request(
                "1403",
                "The header 'If-Match' is missing in the request. "
                "Please provide the header and try again.",
                self.kind,
            )
        if if_match != record["etag"]:
            raise ApiProblem(
                412,
                "1404",
                "Version not matching",
                f"The supplied version '{if_match}' does not match the current version on "
                f"entity {record['etag']}.",
                self.kind,
            )


def normalize_ops(ops: Any, patchable: Callable[[str], bool], kind: str) -> list[Record]:
    """A JSON Patch array as Flow Service takes it: add/replace/remove, any case, on the paths
    `patchable` allows (others: 1455, as for an unknown field)."""
    if not isinstance(ops, list) or not ops:
        raise bad_request("1405", "The request body cannot be null or empty.", kind)
    out = []
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise bad_request("1455", "Each patch instruction needs 'op' and 'path'.", kind)
        name = op["op"].lower()
        if name not in ("add", "replace", "remove"):
            raise bad_request("1434", f"Unsupported operation '{op['op']}' received", kind)
        path = op.get("path")
        if not isinstance(path, str) or not patchable(path):
            field_name = str(path).strip("/").split("/")[0] if path else ""
            raise bad_request(
                "1455",
                "An error has occurred while validating patch instructions: "
                f'Missing field "{field_name}".',
                kind,
            )
        instruction: Record = {"op": name, "path": path}
        if name != "remove":
            if "value" not in op:
                raise bad_request(
                    "1455", f"Patch instruction '{name}' on {path} needs a value.", kind
                )
            instruction["value"] = op["value"]
        out.append(instruction)
    return out


def apply_ops(document: Record, ops: list[Record], kind: str) -> Record:
    try:
        changed: Record = jsonpatch.apply_patch(document, ops)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise bad_request(
            "1455", f"An error has occurred while validating patch instructions: {exc}", kind
        ) from None
    return changed


def require_name(body: Record, kind: str) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("1406", f"The {kind} name is required.", kind)  # GUESS: code
    return name


def optional_text(body: Record, key: str, kind: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request("1406", f"{key} must be a string.", kind)  # GUESS: code
    return value
