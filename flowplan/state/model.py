"""What the state records: which resource each manifest key manages, and what was last applied.

Never a secret: secrets appear as HMAC-SHA256 fingerprints under a random per-state key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowplan.errors import StateError
from flowplan.model import Attributes

STATE_VERSION = 1


@dataclass(frozen=True)
class StateEntry:
    id: str
    etag: str
    attributes: Attributes
    protect: bool = False
    secret_fingerprints: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "etag": self.etag,
            **self.attributes.to_dict(),
            "protect": self.protect,
            "secrets": dict(sorted(self.secret_fingerprints.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateEntry:
        return cls(
            id=str(data["id"]),
            etag=str(data["etag"]),
            attributes=Attributes.from_dict(data),
            protect=bool(data.get("protect", False)),
            secret_fingerprints=dict(data.get("secrets") or {}),
        )


@dataclass
class State:
    lineage: str
    serial: int
    org: str
    sandbox: str
    fingerprint_key: str  # hex; makes fingerprints useless without the state
    connections: dict[str, StateEntry] = field(default_factory=dict)
    exists: bool = True  # False until first written

    @classmethod
    def new(cls, org: str, sandbox: str) -> State:
        return cls(str(uuid.uuid4()), 0, org, sandbox, secrets.token_hex(32), exists=False)

    def fingerprint(self, param: str, value: str) -> str:
        key = bytes.fromhex(self.fingerprint_key)
        digest = hmac.new(key, f"{param}\0{value}".encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "org": self.org,
            "sandbox": self.sandbox,
            "fingerprint_key": self.fingerprint_key,
            "connections": {k: e.to_dict() for k, e in sorted(self.connections.items())},
        }

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
        if version != STATE_VERSION:
            raise StateError(f"{where}: unknown state format {version!r}")
        try:
            return cls(
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                org=str(data["org"]),
                sandbox=str(data["sandbox"]),
                fingerprint_key=str(data["fingerprint_key"]),
                connections={
                    str(k): StateEntry.from_dict(v) for k, v in data["connections"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(
                f"{where}: the state is damaged ({exc.__class__.__name__}: {exc}); nothing was "
                "changed"
            ) from None
