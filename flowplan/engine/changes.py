"""A plan is data: changes with a closed set of actions, serialisable to the JSON of
schemas/plan.schema.json (the `--format json` output and the saved plan file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flowplan import __version__
from flowplan.errors import StalePlanError
from flowplan.manifest.schema_files import validator
from flowplan.model import Address, Attrs
from flowplan.state.model import parse_address

FORMAT_VERSION = "1"


class Action(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    MOVE = "move"  # a new address for the same resource: the state only, no request
    NOOP = "no-op"


ACTION_WORDS = ("create", "update", "replace", "delete", "adopt", "move")  # summary order
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


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    org: str
    sandbox: str
    manifest_path: str
    manifest_digest: str
    state_lineage: str
    state_serial: int
    state_exists: bool
    fingerprint_key: str | None = None  # only when no state exists yet: the new state's key
    state_location: str = ""  # where the state lives (a path, postgresql://…, s3://…)
    environment: str | None = None
    destroy: bool = False  # made by `destroy` or `plan --destroy`

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        return bool(self.actionable)

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(("create", "update", "delete", "adopt", "replace", "no-op"), 0)
        counts["move"] = 0
        for change in self.changes:
            counts[str(change.action)] += 1
        return counts

    def to_dict(self, include_key: bool = False) -> dict[str, Any]:
        state: dict[str, Any] = {
            "lineage": self.state_lineage,
            "serial": self.state_serial,
            "exists": self.state_exists,
        }
        if self.state_location:
            state["location"] = self.state_location
        if include_key and self.fingerprint_key:
            state["fingerprint_key"] = self.fingerprint_key
        return {
            "format_version": FORMAT_VERSION,
            "flowplan_version": __version__,
            "org": self.org,
            "sandbox": self.sandbox,
            **({"environment": self.environment} if self.environment else {}),
            **({"destroy": True} if self.destroy else {}),
            "manifest": {"path": self.manifest_path, "digest": self.manifest_digest},
            "state": state,
            "changes": [c.to_dict() for c in self.changes],
            "summary": self.summary(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Plan:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise StalePlanError(f"{where} is not a flowplan plan file of format 1")
        problem = next(iter(validator("plan.schema.json").iter_errors(data)), None)
        if problem is not None:
            at = "/".join(str(p) for p in problem.absolute_path) or "the top level"
            raise StalePlanError(f"{where} is damaged (at {at}); make the plan again")
        try:
            state = data["state"]
            return cls(
                changes=tuple(Change.from_dict(c) for c in data["changes"]),
                org=data["org"],
                sandbox=data["sandbox"],
                manifest_path=data["manifest"]["path"],
                manifest_digest=data["manifest"]["digest"],
                state_lineage=state["lineage"],
                state_serial=int(state["serial"]),
                state_exists=bool(state["exists"]),
                fingerprint_key=state.get("fingerprint_key"),
                state_location=state.get("location", ""),
                environment=data.get("environment"),
                destroy=bool(data.get("destroy", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StalePlanError(f"{where} is damaged ({exc.__class__.__name__}: {exc})") from None
