"""The planner: a pure function from (desired, state, remote) to the changes. No I/O.

Matching, per kind: by the state's id; a resource the state does not manage (or whose recorded
one is gone) adopts the one remote resource of the same identity (a connection: spec and name)
that no other key manages; several: an error, use `flowplan import`. Secrets cannot be read
back, so they are compared by fingerprint against the state. A resource that gets a new id
(replaced, or created again) replaces what references it: Adobe's source and target
connections and dataflows cannot be pointed elsewhere in place.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from flowplan.engine.changes import ORDER, Action, Change, Drift, FieldChange
from flowplan.engine.targets import select_targets
from flowplan.errors import PlanError
from flowplan.kinds.base import Kind
from flowplan.model import Address, Desired, Remote
from flowplan.state.model import State, StateEntry


@dataclass(frozen=True)
class Wanted:
    """What the planner sees of a desired resource: attributes and secret fingerprints."""

    desired: Desired
    fingerprints: Mapping[str, str]


def plan(
    kinds: Sequence[Kind],
    wanted: Mapping[Address, Wanted],
    state: State,
    remote: Mapping[str, Sequence[Remote]],
    targets: Iterable[str] = (),
    moves: Sequence[tuple[Address, Address]] = (),
) -> tuple[Change, ...]:
    """Every change needed, sorted by action, kind and key; PlanError lists each refusal."""
    errors: dict[Address, list[str]] = {}
    changes: dict[Address, Change] = {}
    state, moved = moved_state(state, moves, errors)
    for kind in kinds:
        _plan_kind(kind, wanted, state, remote.get(kind.name, ()), changes, errors)
    _adopt_linked(kinds, wanted, state, remote, changes)
    _replace_dependents(kinds, wanted, state, changes, errors)
    _link(wanted, state, changes)
    for new, old in moved.items():
        if new in changes:
            change = changes[new]
            action = Action.MOVE if change.action is Action.NOOP else change.action
            reason = f"moved from {old} (the state only; nothing is sent)"
            if change.reason:
                reason += f"; {change.reason}"
            changes[new] = replace(change, action=action, moved_from=old, reason=reason)
    order = {k.name: i for i, k in enumerate(kinds)}
    wanted_targets = list(targets)
    selected = select_targets(changes, wanted_targets)
    problems = [
        p
        for a in sorted(errors)
        if not wanted_targets or a in selected or {str(a), a.key} & set(wanted_targets)
        for p in errors[a]
    ]
    if problems:
        raise PlanError("the plan cannot be made:\n  " + "\n  ".join(problems))
    return tuple(
        sorted(
            (changes[a] for a in selected),
            key=lambda c: (ORDER[c.action], _kind_rank(c, order), c.key),
        )
    )


def moved_state(
    state: State, moves: Sequence[tuple[Address, Address]], errors: dict[Address, list[str]]
) -> tuple[State, dict[Address, Address]]:
    """The state as the `moved:` entries rename it (a copy: the planner changes nothing). A
    move whose `from` is no longer in the state is done, and ignored; moving onto an address
    the state already has is refused."""
    if not moves:
        return state, {}
    copy = replace(state, sections={k: dict(v) for k, v in state.sections.items()})
    moved: dict[Address, Address] = {}
    for old, new in moves:
        entry = copy.get(old)
        if entry is None:
            continue
        if old.kind != new.kind:
            errors.setdefault(new, []).append(f"moved: {old} -> {new}: the kinds differ")
        elif copy.get(new) is not None:
            errors.setdefault(new, []).append(
                f"moved: {old} -> {new}: {new} is already in the state; remove one with "
                "`flowplan state rm` first"
            )
        else:
            copy.rename(old, new)
            moved[new] = old
    return copy, moved


def _kind_rank(change: Change, order: Mapping[str, int]) -> int:
    """Referenced kinds first; for deletes, the kinds that reference them first."""
    rank = order.get(change.kind, len(order))
    return -rank if change.action is Action.DELETE else rank


def _plan_kind(
    kind: Kind,
    wanted: Mapping[Address, Wanted],
    state: State,
    remote: Sequence[Remote],
    changes: dict[Address, Change],
    errors: dict[Address, list[str]],
) -> None:
    mine = {a: w for a, w in wanted.items() if a.kind == kind.name}
    recorded = {a: e for a, e in state.entries() if a.kind == kind.name}
    _check_unique(kind, mine, recorded, errors)
    by_id = {r.id: r for r in remote}
    managed = {e.id for e in recorded.values()}
    by_identity: dict[Hashable, list[Remote]] = {}
    for r in remote:
        if r.id not in managed:
            by_identity.setdefault(kind.identity(r.attributes), []).append(r)
    for address, want in mine.items():
        entry = recorded.get(address)
        found = by_id.get(entry.id) if entry is not None else None
        if entry is not None and found is not None:
            changes[address] = _managed(kind, want, entry, found, errors)
            continue
        identity = kind.identity(want.desired.attributes)
        matches = by_identity.get(identity, []) if identity is not None else []
        if len(matches) > 1:
            ids = ", ".join(sorted(m.id for m in matches))
            errors.setdefault(address, []).append(
                f"{address}: {len(matches)} {kind.noun}s are named "
                f"{want.desired.attributes.get('name')!r} ({ids}); choose one with "
                f"`flowplan import {address} ID`"
            )
        elif matches:
            changes[address] = _adopt(kind, want, matches[0], entry)
            if changes[address].action is Action.REPLACE and want.desired.protect:
                errors.setdefault(address, []).append(_protected(address, "replaced"))
        else:
            gone = (
                f"{kind.noun} {entry.id} in the state no longer exists (deleted outside "
                "flowplan); it will be created again"
                if entry is not None
                else ""
            )
            changes[address] = _create(want, gone)
    for address, entry in recorded.items():
        if address not in mine:
            changes[address] = _delete(kind, address, entry, by_id.get(entry.id), errors)


def _check_unique(
    kind: Kind,
    mine: Mapping[Address, Wanted],
    recorded: Mapping[Address, StateEntry],
    errors: dict[Address, list[str]],
) -> None:
    """Two keys must never manage one resource: not by identity once `${…}` is expanded,
    and not by a state that records one id under two keys."""
    seen: dict[Hashable, Address] = {}
    for address, want in sorted(mine.items()):
        identity = kind.identity(want.desired.attributes)
        if identity is None:
            continue
        if identity in seen:
            errors.setdefault(address, []).append(
                f"{address} and {seen[identity]} both declare {kind.noun} "
                f"{want.desired.attributes.get('name')!r} once their references are expanded; "
                "one resource cannot be managed by two keys"
            )
        seen.setdefault(identity, address)
    owners: dict[str, Address] = {}
    for address, entry in sorted(recorded.items()):
        if entry.id in owners:
            errors.setdefault(address, []).append(
                f"the state records {kind.noun} {entry.id} under both {owners[entry.id]} and "
                f"{address}; remove one with `flowplan state rm`"
            )
        owners.setdefault(entry.id, address)


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


def _create(want: Wanted, reason: str) -> Change:
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


def _adopt(kind: Kind, want: Wanted, remote: Remote, entry: StateEntry | None) -> Change:
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


def _managed(
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
            errors.setdefault(d.address, []).append(_protected(d.address, "replaced"))
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


def _protected(address: Address, verb: str) -> str:
    return (
        f"{address}: is protected (protect: true) and would be {verb}; to allow it, apply it "
        f"with protect: false first, or stop managing it with `flowplan state rm {address}`"
    )


def _delete(
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
        errors.setdefault(address, []).append(_protected(address, "deleted"))
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


def _adopt_linked(
    kinds: Sequence[Kind],
    wanted: Mapping[Address, Wanted],
    state: State,
    remote: Mapping[str, Sequence[Remote]],
    changes: dict[Address, Change],
) -> None:
    """An adopted resource brings along what it uses: a new key it references is adopted as
    the remote resource the adopted one points at (a mapping set has no name to match)."""
    by_kind = {k.name: k for k in kinds}
    for address, change in list(changes.items()):
        found = _remote(remote, address.kind, change.id) if change.action is Action.ADOPT else None
        if found is None or address not in wanted:
            continue
        for kind_name, linked_id in by_kind[address.kind].linked(found).items():
            for needed in wanted[address].desired.requires:
                other = changes.get(needed)
                linked = _remote(remote, kind_name, linked_id)
                if needed.kind != kind_name or other is None or linked is None:
                    continue
                if other.action is Action.CREATE and state.get(needed) is None:
                    changes[needed] = _adopt(by_kind[kind_name], wanted[needed], linked, None)


def _remote(remote: Mapping[str, Sequence[Remote]], kind: str, rid: str | None) -> Remote | None:
    return next((r for r in remote.get(kind, ()) if r.id == rid), None)


def _replace_dependents(
    kinds: Sequence[Kind],
    wanted: Mapping[Address, Wanted],
    state: State,
    changes: dict[Address, Change],
    errors: dict[Address, list[str]],
) -> None:
    """A resource that gets a new id takes what references it along (replace the chain)."""
    renewed = {a for a, c in changes.items() if _gets_new_id(c, state)}
    pending = list(renewed)
    while pending:
        cause = pending.pop()
        for address, want in wanted.items():
            change = changes.get(address)
            if change is None or address in renewed or cause not in want.desired.requires:
                continue
            if change.action in (Action.CREATE, Action.REPLACE):
                continue
            if change.protect:
                errors.setdefault(address, []).append(_protected(address, "replaced"))
            changes[address] = replace(
                change,
                action=Action.REPLACE,
                sensitive=dict.fromkeys(change.secret_fingerprints, "set"),
                reason=f"{cause} gets a new id, and a {address.kind} cannot be pointed at "
                "another in place: delete, then create",
            )
            renewed.add(address)
            pending.append(address)


def _gets_new_id(change: Change, state: State) -> bool:
    if change.action is Action.REPLACE:
        return True
    return change.action is Action.CREATE and state.get(change.address) is not None


def _link(wanted: Mapping[Address, Wanted], state: State, changes: dict[Address, Change]) -> None:
    """Each change learns what it references and what references it (the apply's graph)."""
    requires: dict[Address, tuple[Address, ...]] = {}
    for address, change in changes.items():
        want = wanted.get(address)
        entry = state.get(address)
        needs: set[Address] = set(want.desired.requires) if want is not None else set()
        if entry is not None and change.action in (Action.DELETE, Action.REPLACE):
            needs.update(entry.requires)
        requires[address] = tuple(sorted(needs))
    required_by: dict[Address, list[Address]] = {}
    for address, needed_by_it in requires.items():
        for needed in needed_by_it:
            required_by.setdefault(needed, []).append(address)
    for address, change in changes.items():
        changes[address] = replace(
            change,
            requires=requires[address],
            required_by=tuple(sorted(required_by.get(address, ()))),
        )
