"""What a plan is made of: the closed set of actions, field changes, drift, and one change per
resource (its address, what it requires and what requires it). Plain data; the Plan itself,
which is read from and written to plan files, is in flowplan/engine/changes.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flowplan.model import Address, Attrs, parse_address


class Action(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    MOVE = "move"  # a new address for the same resource: the state only, no request
    NOOP = "no-op"


ORDER = {a: i for i, a in enumerate(Action)}


@dataclass(frozen=True)
class FieldChange:
    field: str  # "name", "description", "authSpecName", "params.<name>"
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Drift:
    """The remote changed since flowplan last recorded it."""

    fields: tuple[FieldChange, ...]
    updated_by: str
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": [f.to_dict() for f in self.fields],
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Change:
    key: str
    action: Action
    id: str | None = None  # the remote resource acted on
    etag: str | None = None  # the remote etag seen at plan time
    before: Attrs | None = None
    after: Attrs | None = None
    fields: tuple[FieldChange, ...] = ()
    sensitive: Mapping[str, str] = field(default_factory=dict)  # name -> changed|unchanged|set
    secret_fingerprints: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    drift: Drift | None = None
    reason: str = ""
    kind: str = "connection"
    requires: tuple[Address, ...] = ()  # what it references (creates wait for them)
    required_by: tuple[Address, ...] = ()  # what references it (deletes wait for them)
    moved_from: Address | None = None  # its address in the state before a `moved:` entry

    @property
    def address(self) -> Address:
        return Address(self.kind, self.key)

    @property
    def sends_secrets(self) -> bool:
        return any(v != "unchanged" for v in self.sensitive.values())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "address": str(self.address),
            "kind": self.kind,
            "key": self.key,
            "action": str(self.action),
            "id": self.id,
            "etag": self.etag,
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "changed_fields": [f.to_dict() for f in self.fields],
            "sensitive": dict(sorted(self.sensitive.items())),
            "secret_fingerprints": dict(sorted(self.secret_fingerprints.items())),
            "protect": self.protect,
            "drift": self.drift.to_dict() if self.drift else None,
            "reason": self.reason,
        }
        if self.requires:
            data["requires"] = [str(a) for a in self.requires]
        if self.required_by:
            data["required_by"] = [str(a) for a in self.required_by]
        if self.moved_from is not None:
            data["moved_from"] = str(self.moved_from)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        def fields(items: Any) -> tuple[FieldChange, ...]:
            return tuple(FieldChange(f["field"], f["before"], f["after"]) for f in items or ())

        def addresses(items: Any) -> tuple[Address, ...]:
            return tuple(parse_address(a) for a in items or ())

        drift = data.get("drift")
        return cls(
            key=data["key"],
            action=Action(data["action"]),
            id=data.get("id"),
            etag=data.get("etag"),
            before=data.get("before"),
            after=data.get("after"),
            fields=fields(data.get("changed_fields")),
            sensitive=dict(data.get("sensitive") or {}),
            secret_fingerprints=dict(data.get("secret_fingerprints") or {}),
            protect=bool(data.get("protect")),
            drift=Drift(fields(drift["fields"]), drift["updated_by"], drift["updated_at"])
            if drift
            else None,
            reason=data.get("reason", ""),
            kind=data.get("kind", "connection"),
            requires=addresses(data.get("requires")),
            required_by=addresses(data.get("required_by")),
            moved_from=parse_address(data["moved_from"]) if data.get("moved_from") else None,
        )
