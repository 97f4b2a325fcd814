"""What the state records: which resource each manifest address manages, and what was last
applied, in one section per kind (`connections`, `sources`, …).

Never a secret: secrets appear as HMAC-SHA256 fingerprints under a random per-state key. A 1.0
state (`"version": 1`, connections only) reads as is; every write uses version 2, which 1.0
refuses, so an old binary can never drop the sections it does not know.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flowplan.errors import StateError
from flowplan.model import Address, Attrs, parse_address

STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
__all__ = ["STATE_VERSION", "State", "StateEntry", "parse_address"]
_ENTRY_FIELDS = ("id", "etag", "protect", "secrets", "requires")


@dataclass(frozen=True)
class StateEntry:
    id: str
    etag: str
    attributes: Attrs
    protect: bool = False
    secret_fingerprints: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[Address, ...] = ()  # what it referenced when applied (delete order)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "etag": self.etag,
            **self.attributes,
            "protect": self.protect,
            "secrets": dict(sorted(self.secret_fingerprints.items())),
        }
        if self.requires:
            data["requires"] = [str(a) for a in self.requires]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> StateEntry:
        """Types are checked, not coerced: `protect: "false"` is damage, not False."""
        if not isinstance(data, dict):
            raise TypeError("an entry is not a JSON object")
        entry_id, etag = data.get("id"), data.get("etag")
        if not isinstance(entry_id, str) or not entry_id:
            raise TypeError("an entry has no id string")
        if not isinstance(etag, str):
            raise TypeError(f"entry {entry_id}: etag is not a string")
        protect = data.get("protect", False)
        if not isinstance(protect, bool):
            raise TypeError(f"entry {entry_id}: protect is {protect!r}, not true or false")
        fingerprints = data.get("secrets") or {}
        if not isinstance(fingerprints, dict) or not all(
            isinstance(v, str) for v in fingerprints.values()
        ):
            raise TypeError(f"entry {entry_id}: secrets is not an object of fingerprints")
        requires = data.get("requires") or []
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            raise TypeError(f"entry {entry_id}: requires is not a list of addresses")
        return cls(
            id=entry_id,
            etag=etag,
            attributes={k: v for k, v in data.items() if k not in _ENTRY_FIELDS},
            protect=protect,
            secret_fingerprints=dict(fingerprints),
            requires=tuple(parse_address(r) for r in requires),
        )


@dataclass
class State:
    lineage: str
    serial: int
    org: str
    sandbox: str
    fingerprint_key: str  # hex; makes fingerprints useless without the state
    sections: dict[str, dict[str, StateEntry]] = field(default_factory=dict)
    exists: bool = True  # False until first written
    _fingerprints: dict[tuple[str, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def new(cls, org: str, sandbox: str) -> State:
        return cls(str(uuid.uuid4()), 0, org, sandbox, secrets.token_hex(32), exists=False)

    @property
    def connections(self) -> dict[str, StateEntry]:
        return self.section("connections")

    def section(self, name: str) -> dict[str, StateEntry]:
        return self.sections.setdefault(name, {})

    def get(self, address: Address) -> StateEntry | None:
        return self.sections.get(address.section, {}).get(address.key)

    def put(self, address: Address, entry: StateEntry) -> None:
        self.section(address.section)[address.key] = entry

    def pop(self, address: Address) -> StateEntry | None:
        return self.sections.get(address.section, {}).pop(address.key, None)

    def rename(self, old: Address, new: Address) -> bool:
        """Record `old`'s entry at `new`, and point what referenced `old` at `new`."""
        entry = self.pop(old)
        if entry is None:
            return False
        self.put(new, entry)
        for address, other in list(self.entries()):
            if old in other.requires:
                requires = tuple(new if r == old else r for r in other.requires)
                self.put(address, replace(other, requires=requires))
        return True

    def of_kind(self, kind: str) -> dict[str, StateEntry]:
        """The entries of one kind by key (`connection` -> the `connections` section)."""
        return self.sections.get(f"{kind}s", {})

    def ids_of(self, kind: str) -> set[str]:
        """The ids of the resources of one kind that the state manages."""
        return {entry.id for entry in self.of_kind(kind).values()}

    def entries(self) -> Iterator[tuple[Address, StateEntry]]:
        for section, entries in self.sections.items():
            kind = section[:-1]
            for key, entry in entries.items():
                yield Address(kind, key), entry

    def owner_of(self, kind: str, resource_id: str) -> Address | None:
        found = (key for key, e in self.of_kind(kind).items() if e.id == resource_id)
        return next((Address(kind, key) for key in found), None)

    def fingerprint(self, param: str, value: str) -> str:
        # connections often share a secret (one app's client secret): computed once per run
        found = self._fingerprints.get((param, value))
        if found is None:
            key = bytes.fromhex(self.fingerprint_key)
            digest = hmac.new(key, f"{param}\0{value}".encode(), hashlib.sha256).hexdigest()
            found = self._fingerprints[(param, value)] = f"hmac-sha256:{digest}"
        return found

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "org": self.org,
            "sandbox": self.sandbox,
            "fingerprint_key": self.fingerprint_key,
            "connections": {},
        }
        for section, entries in sorted(self.sections.items()):
            if entries or section == "connections":
                data[section] = {k: e.to_dict() for k, e in sorted(entries.items())}
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> State:
        if not isinstance(data, dict):
            raise StateError(f"{where}: not a flowplan state (expected a JSON object)")
        version = data.get("version")
        if isinstance(version, int) and version > STATE_VERSION:
            raise StateError(
                f"{where}: state format {version} is newer than this flowplan understands "
                f"({STATE_VERSION}); upgrade flowplan"
            )
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise StateError(f"{where}: unknown state format {version!r}")
        try:
            state = cls(
                lineage=_text(data, "lineage"),
                serial=_serial(data),
                org=_text(data, "org"),
                sandbox=_text(data, "sandbox"),
                fingerprint_key=_key(data),
            )
            state.sections = _sections(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(
                f"{where}: the state is damaged ({exc.__class__.__name__}: {exc}); nothing was "
                "changed"
            ) from None
        return state


_HEADER = ("version", "lineage", "serial", "org", "sandbox", "fingerprint_key")


def _sections(data: Mapping[str, Any]) -> dict[str, dict[str, StateEntry]]:
    if not isinstance(data.get("connections"), dict):
        raise TypeError("connections is not an object")
    sections: dict[str, dict[str, StateEntry]] = {}
    for name, entries in data.items():
        if name in _HEADER:
            continue
        if not isinstance(entries, dict) or not name.endswith("s"):
            raise TypeError(f"{name!r} is not a section of entries")
        sections[name] = {str(k): StateEntry.from_dict(v) for k, v in entries.items()}
    return sections


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _serial(data: Mapping[str, Any]) -> int:
    value = data["serial"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("serial is not a whole number")
    return value


def _key(data: Mapping[str, Any]) -> str:
    value = _text(data, "fingerprint_key")
    bytes.fromhex(value)  # ValueError when it is not hex: the fingerprints could not be checked
    if len(value) < 32:
        raise ValueError("fingerprint_key is too short")
    return value
