"""The desired model (from the manifest) and the observed one (from Flow Service).

Plain frozen records; no I/O here. Secret values travel only inside `SecretValue`, whose repr
never shows them, so a stray print or log line cannot leak one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from flowplan.references.resolver import Ref, Template

ParamValue = Template | int | float | bool


@dataclass(frozen=True, slots=True)
class SpecRef:
    id: str
    version: str = "1.0"


@dataclass(frozen=True, slots=True)
class DesiredConnection:
    """One connection as the manifest writes it, references unresolved."""

    key: str
    spec: SpecRef
    type_name: str | None
    name: Template
    description: Template | None
    protect: bool
    auth_spec_name: str | None  # None: the spec's default, known once the spec is known
    params: Mapping[str, ParamValue]
    secret_params: frozenset[str] | None  # None: spec not built in; learnt from the API


@dataclass(frozen=True, slots=True)
class Manifest:
    path: Path
    sandbox: str | None
    connections: Mapping[str, DesiredConnection]
    digest: str  # sha256 of the file's bytes
    environment: str | None = None  # the environment chosen (--env), if the manifest has them
    state_location: str | None = None  # the manifest's top-level `state:`
    env_state_location: str | None = None  # the chosen environment's `state:`
    references: tuple[Ref, ...] = ()  # every distinct reference, for Resolver.prefetch
    # The other sections (sources, targets, mappings, dataflows): key -> the entry as written,
    # checked by the manifest's schema and semantic checks, turned into requests by the kinds.
    sections: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    moved: tuple[tuple[str, str], ...] = ()  # `moved:` (from, to) addresses, in order


class SecretValue:
    """A resolved secret. Its repr and str never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue(<sensitive>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


Attrs = Mapping[str, Any]
"""A resource's managed, non-secret attributes in their JSON form: what is compared, planned,
shown and recorded in the state. Each kind decides the keys (flowplan/kinds/)."""


class Address(NamedTuple):
    """`KIND.KEY`: a resource's identity in plans, errors, `--target` and the state.

    A NamedTuple rather than a frozen dataclass: it keys every map of a plan, and a tuple
    hashes and compares in C (a dataclass's generated __hash__ builds a tuple per call:
    ~20,000 calls, ~10 ms, in a plan of 2,000 connections)."""

    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"

    @property
    def section(self) -> str:
        """The manifest and state section of the kind: `connection` -> `connections`."""
        return f"{self.kind}s"


def parse_address(text: str) -> Address:
    """`KIND.KEY` as an Address; ValueError when it is not one."""
    kind, dot, key = text.partition(".")
    if not dot or not kind or not key:
        raise ValueError(f"{text!r} is not an address (KIND.KEY)")
    return Address(kind, key)


@dataclass(frozen=True, slots=True)
class Desired:
    """A resource as the manifest wants it, references resolved: what apply sends."""

    address: Address
    attributes: Attrs
    protect: bool = False
    secrets: Mapping[str, SecretValue] = field(default_factory=dict)
    requires: tuple[Address, ...] = ()  # the resources it references


@dataclass(frozen=True, slots=True)
class Remote:
    """A resource as Flow Service returns it, secret params dropped."""

    id: str
    etag: str
    attributes: Attrs
    updated_by: str = ""
    updated_at: int = 0  # epoch ms
    updated_client: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # kind-specific, not compared
