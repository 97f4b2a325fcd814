"""`flowplan state list|show|rm|pull|push|migrate` and `force-unlock`: the state on its own.

None of these changes Flow Service, and none needs its credentials: they read the state
whatever org and sandbox it was written for. Every write is under the state's lock and a
compare-and-swap against the version read.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowplan.errors import PlanError, StateError
from flowplan.model import Address
from flowplan.state.model import State, parse_address
from flowplan.state.store import StateStore, decode, serialise

_KIND_OF_SECTION = {"connections": "connection"}


KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Row:
    address: str
    id: str
    name: str


def _sections(state: State) -> dict[str, dict[str, Any]]:
    """`section -> key -> entry` in the state's JSON form (connections, sources, …)."""
    data = state.to_dict()
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _label(section: str, key: str) -> str:
    """A connection keeps its bare key (as in 1.0); other kinds show `kind.key`."""
    if section == "connections":
        return key
    return f"{section.removesuffix('s')}.{key}"


def _existing(store: StateStore) -> State:
    state = store.load_any()
    if state is None:
        raise StateError(f"there is no state at {store.describe()}")
    return state


def _loaded(store: StateStore) -> State:
    return store.load_any() or State.new("", "")


def list_entries(store: StateStore) -> list[Row]:
    rows = []
    for section, entries in _sections(_loaded(store)).items():
        for key, entry in sorted(entries.items()):
            rows.append(Row(_label(section, key), str(entry.get("id")), str(entry.get("name", ""))))
    return rows


def _find(state: State, wanted: str) -> tuple[str, str]:
    """(section, key) of `wanted`: an address `kind.key`, or a bare key if unambiguous."""
    sections = _sections(state)
    kind, dot, key = wanted.partition(".")
    if dot and f"{kind}s" in sections and key in sections[f"{kind}s"]:
        return f"{kind}s", key
    found = [(s, wanted) for s, entries in sections.items() if wanted in entries]
    if len(found) == 1:
        return found[0]
    if found:
        choices = ", ".join(f"{s.removesuffix('s')}.{k}" for s, k in found)
        raise PlanError(f"{wanted!r} is ambiguous: {choices}")
    known = [f"{s.removesuffix('s')}.{k}" for s, entries in sections.items() for k in entries]
    close = difflib.get_close_matches(wanted, known + [a.partition(".")[2] for a in known], 1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise PlanError(f"no state entry {wanted!r}{hint}; `flowplan state list` shows them")


def show_entry(store: StateStore, wanted: str) -> str:
    state = _loaded(store)
    section, key = _find(state, wanted)
    return json.dumps(_sections(state)[section][key], indent=2)


def remove_entry(store: StateStore, wanted: str, lock_timeout: float = 0.0) -> str:
    """Forget `wanted`; returns the id of the resource, which still exists."""
    with store.lock(lock_timeout):
        state = _existing(store)
        section, key = _find(state, wanted)
        data = state.to_dict()
        entry = data[section].pop(key)
        store.save(State.from_dict(data, store.describe()))
    return str(entry.get("id"))


def move_entry(store: StateStore, old: str, new: str, lock_timeout: float = 0.0) -> str:
    """Record the resource at `old` under `new` (same kind); nothing is sent to Flow Service.
    Returns the new address."""
    with store.lock(lock_timeout):
        state = _existing(store)
        section, key = _find(state, old)
        source = Address(section.removesuffix("s"), key)
        target = parse_address(new) if "." in new else Address(source.kind, new)
        if target.kind != source.kind:
            raise PlanError(f"cannot move {source} to {target}: the kinds differ")
        if not KEY_PATTERN.match(target.key):
            raise PlanError(f"{target.key!r} is not a valid key (a-z, 0-9, '-', '_')")
        if state.get(target) is not None:
            raise PlanError(f"{target} is already in the state; `flowplan state rm {target}` first")
        state.rename(source, target)
        store.save(state)
    return str(target)


def pull(store: StateStore) -> str:
    payload = store.read_bytes()
    if payload is None:
        raise StateError(f"there is no state at {store.describe()}")
    return payload.decode("utf-8")


def push(store: StateStore, file: Path, force: bool, lock_timeout: float) -> State:
    """Replace the stored state by `file`'s: refused when the lineage differs or the serial is
    not newer, unless `force`."""
    pushed = _read_file(file)
    with store.lock(lock_timeout):
        current = store.load_any()
        if current is not None and not force:
            if current.lineage != pushed.lineage:
                raise StateError(
                    f"{file} has lineage {pushed.lineage}, but {store.describe()} has "
                    f"{current.lineage}: it is another state; --force replaces it anyway"
                )
            if pushed.serial <= current.serial:
                raise StateError(
                    f"{file} has serial {pushed.serial}, not newer than the {current.serial} of "
                    f"{store.describe()}; --force replaces it anyway"
                )
        store.save_as_is(pushed)
    return pushed


def _read_file(file: Path) -> State:
    try:
        payload = file.read_bytes()
    except OSError as exc:
        raise StateError(f"{file}: cannot read: {exc.strerror}") from None
    return decode(payload, str(file), "not kept (a file given to push)")


def migrate(source: StateStore, target: StateStore, force: bool, lock_timeout: float) -> State:
    """Copy the state, lineage and serial as they are, from `source` to `target`."""
    if source.describe() == target.describe():
        raise StateError(f"{target.describe()} is already where the state is")
    with source.lock(lock_timeout), target.lock(lock_timeout):
        state = _existing(source)
        existing = target.load_any()
        if existing is not None and not force:
            raise StateError(
                f"{target.describe()} already holds a state (lineage {existing.lineage}, serial "
                f"{existing.serial}); nothing was copied. --force replaces it"
            )
        target.save_as_is(state)
        if target.read_bytes() != serialise(state):
            raise StateError(f"{target.describe()}: the copy reads back differently")
    return state


def force_unlock(store: StateStore, lock_id: str) -> str:
    return store.force_unlock(lock_id)
