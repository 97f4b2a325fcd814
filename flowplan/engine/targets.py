"""`--target`: which changes a targeted plan keeps.

A target is an address (`connection.hs-a`) or a bare key when only one kind has it. It takes
in what it references (so a new source's connection is created first) and, when it is
replaced or deleted, what references it and must go first (the API refuses to delete what a
dataflow uses).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from flowplan.engine.changes import Action, Change
from flowplan.errors import PlanError
from flowplan.model import Address


def resolve_target(text: str, known: Sequence[Address]) -> Address:
    if "." in text:
        kind, _, key = text.partition(".")
        address = Address(kind, key)
        if address in known:
            return address
    else:
        matches = [a for a in known if a.key == text]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(str(a) for a in sorted(matches))
            raise PlanError(f"--target {text} is ambiguous: use one of {names}")
    close = difflib.get_close_matches(text, [str(a) for a in known] + [a.key for a in known], 1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise PlanError(f"--target names no manifest resource or state entry: {text}{hint}")


def select_targets(changes: Mapping[Address, Change], targets: Sequence[str]) -> set[Address]:
    if not targets:
        return set(changes)
    known = sorted(changes)
    unknown: list[str] = []
    chosen: set[Address] = set()
    for text in targets:
        try:
            chosen.add(resolve_target(text, known))
        except PlanError as exc:
            unknown.append(str(exc))
    if unknown:
        raise PlanError("\n".join(unknown))
    selected: set[Address] = set()
    pending = list(chosen)
    while pending:
        address = pending.pop()
        if address in selected or address not in changes:
            continue
        selected.add(address)
        change = changes[address]
        pending += change.requires
        if change.action in (Action.DELETE, Action.REPLACE):
            pending += [
                a
                for a in change.required_by
                if a in changes and changes[a].action in (Action.DELETE, Action.REPLACE)
            ]
    return selected
