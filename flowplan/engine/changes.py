"""A plan is data: changes with a closed set of actions, serialisable to the JSON of
schemas/plan.schema.json (the `--format json` output and the saved plan file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowplan import __version__
from flowplan.errors import StalePlanError
from flowplan.manifest.schema_files import validator
from flowplan.model.changes import (
    ORDER,
    Action,
    Change,
    Drift,
    FieldChange,
)

__all__ = [
    "FORMAT_VERSION",
    "ORDER",
    "Action",
    "Change",
    "Drift",
    "FieldChange",
    "Plan",
]

FORMAT_VERSION = "1"


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
