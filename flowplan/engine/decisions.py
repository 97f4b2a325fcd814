"""What one resource needs, decided from its desired form, its state entry and what Flow
Service returned: create, adopt, update, replace, delete or nothing. Pure functions; the
planner (planner.py) calls them per kind and resource."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowplan.errors import PlanError  # noqa: F401
from flowplan.kinds.base import Kind
from flowplan.model import Address, Desired, Remote
from flowplan.model.changes import Action, Change, Drift, FieldChange
from flowplan.state.model import StateEntry


@dataclass(frozen=True)
class Wanted:
    """What the planner sees of a desired resource: attributes and secret fingerprints."""

    desired: Desired
    fingerprints: Mapping[str, str]


def sensitive_status(
    desired: Mapping[str, str], recorded: Mapping[str, str] | None
) -> dict[str, str]:
    if recorded is None:
        return dict.fromkeys(desired, "set")
    out = {
        name: "unchanged" if recorded.get(name) == fp else "changed" for name, fp in desired.items()
    }
    out.update({name: "removed" for name in recorded if name not in desired})
    return out


def create(want: Wanted, reason: str) -> Change:
    d = want.desired
    return Change(
        kind=d.address.kind,
        key=d.address.key,
        action=Action.CREATE,
        after=d.attributes,
        sensitive=dict.fromkeys(want.fingerprints, "set"),
        secret_fingerprints=want.fingerprints,
        protect=d.protect,
        reason=reason,
    )


def adopt(kind: Kind, want: Wanted, remote: Remote, entry: StateEntry | None) -> Change:
    d = want.desired
    reason = f"an existing {kind.noun} with this identity will be brought under management" + (
        "; its secrets cannot be read, so they will be set" if want.fingerprints else ""
    )
    if entry is not None:
        reason = (
            f"{kind.noun} {entry.id} in the state no longer exists, but {remote.id} has the same "
            "identity (an interrupted apply created it?); it is adopted instead of created again"
        )
    fields = kind.diff(remote.attributes, d.attributes)
    replace_reason = kind.replace_reason(remote.attributes, d.attributes)
    return Change(
        kind=d.address.kind,
        key=d.address.key,
        action=Action.REPLACE if replace_reason else Action.ADOPT,
        id=remote.id,
        etag=remote.etag,
        before=remote.attributes,
        after=d.attributes,
        fields=fields,
        sensitive=sensitive_status(want.fingerprints, None),
        secret_fingerprints=want.fingerprints,
        protect=d.protect,
        reason=f"the existing {kind.noun} {remote.id} has another {replace_reason}, which cannot "
        "be changed in place: delete, then create"
        if replace_reason
        else reason,
    )


def managed(
    kind: Kind,
    want: Wanted,
    entry: StateEntry,
    remote: Remote,
    errors: dict[Address, list[str]],
) -> Change:
    d = want.desired
    common: dict[str, Any] = {
        "kind": d.address.kind,
        "key": d.address.key,
        "id": remote.id,
        "etag": remote.etag,
        "before": remote.attributes,
        "after": d.attributes,
        "secret_fingerprints": want.fingerprints,
        "protect": d.protect,
    }
    drift = None
    if remote.etag != entry.etag:
        drift = Drift(
            kind.diff(entry.attributes, remote.attributes), remote.updated_by, remote.updated_at
        )
    fields = kind.diff(remote.attributes, d.attributes)
    immutable = kind.replace_reason(remote.attributes, d.attributes)
    if immutable:
        if entry.protect or d.protect:
            errors.setdefault(d.address, []).append(protected(d.address, "replaced"))
        return Change(
            action=Action.REPLACE,
            fields=fields,
            sensitive=dict.fromkeys(want.fingerprints, "set"),
            drift=drift,
            reason=f"the {immutable} cannot be changed in place: delete, then create",
            **common,
        )
    refused = kind.refuse_update(remote.attributes, d.attributes)
    if refused:
        errors.setdefault(d.address, []).append(f"{d.address}: {refused}")
    if entry.protect != d.protect:  # recorded in the state only; Flow Service has no such field
        fields += (FieldChange("protect", entry.protect, d.protect),)
    sensitive = sensitive_status(want.fingerprints, entry.secret_fingerprints)
    reason = ""
    if drift is not None and not drift.fields and want.fingerprints:
        # Something we cannot see changed (most likely a secret): send the secrets again.
        sensitive = dict.fromkeys(want.fingerprints, "changed")
        reason = (
            "changed outside flowplan in a way the API does not show (secrets?); the "
            "manifest's secrets will be sent again"
        )
    changed = bool(fields) or any(v != "unchanged" for v in sensitive.values())
    return Change(
        action=Action.UPDATE if changed else Action.NOOP,
        fields=fields,
        sensitive=sensitive,
        drift=drift,
        reason=reason,
        **common,
    )


def protected(address: Address, verb: str) -> str:
    return (
        f"{address}: is protected (protect: true) and would be {verb}; to allow it, apply it "
        f"with protect: false first, or stop managing it with `flowplan state rm {address}`"
    )


def delete(
    kind: Kind,
    address: Address,
    entry: StateEntry,
    remote: Remote | None,
    errors: dict[Address, list[str]],
) -> Change:
    common: dict[str, Any] = {"kind": address.kind, "key": address.key, "protect": entry.protect}
    if remote is None:
        return Change(
            action=Action.DELETE,
            before=entry.attributes,
            reason=f"{kind.noun} {entry.id} is already gone; only the state entry is removed",
            **common,
        )
    if entry.protect:
        errors.setdefault(address, []).append(protected(address, "deleted"))
    reason = "removed from the manifest"
    if not kind.deletable:
        reason += f"; {kind.noun}s cannot be deleted, so it is only forgotten from the state"
    return Change(
        action=Action.DELETE,
        id=remote.id,
        etag=remote.etag,
        before=remote.attributes,
        reason=reason,
        **common,
    )
