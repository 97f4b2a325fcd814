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
from dataclasses import replace

from flowplan.engine.decisions import Wanted, adopt, create, delete, managed, protected
from flowplan.engine.targets import select_targets
from flowplan.errors import PlanError
from flowplan.kinds.base import Kind
from flowplan.model import Address, Remote
from flowplan.model.changes import ORDER, Action, Change
from flowplan.state.model import State, StateEntry

__all__ = ["Wanted", "moved_state", "plan"]


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
    recorded = {Address(kind.name, k): e for k, e in state.of_kind(kind.name).items()}
    _check_unique(kind, mine, recorded, errors)
    by_id = {r.id: r for r in remote}
    managed_ids = {e.id for e in recorded.values()}
    by_identity: dict[Hashable, list[Remote]] = {}
    for r in remote:
        if r.id not in managed_ids:
            by_identity.setdefault(kind.identity(r.attributes), []).append(r)
    for address, want in mine.items():
        entry = recorded.get(address)
        found = by_id.get(entry.id) if entry is not None else None
        if entry is not None and found is not None:
            changes[address] = managed(kind, want, entry, found, errors)
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
            changes[address] = adopt(kind, want, matches[0], entry)
            if changes[address].action is Action.REPLACE and want.desired.protect:
                errors.setdefault(address, []).append(protected(address, "replaced"))
        else:
            gone = (
                f"{kind.noun} {entry.id} in the state no longer exists (deleted outside "
                "flowplan); it will be created again"
                if entry is not None
                else ""
            )
            changes[address] = create(want, gone)
    for address, entry in recorded.items():
        if address not in mine:
            changes[address] = delete(kind, address, entry, by_id.get(entry.id), errors)


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
                    changes[needed] = adopt(by_kind[kind_name], wanted[needed], linked, None)


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
                errors.setdefault(address, []).append(protected(address, "replaced"))
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
        if requires[address] or address in required_by:  # most connections link to nothing
            changes[address] = replace(
                change,
                requires=requires[address],
                required_by=tuple(sorted(required_by[address])) if address in required_by else (),
            )
