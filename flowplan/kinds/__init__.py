"""Resource kinds: one module each; the registry below lists them in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowplan.kinds.base import Kind
from flowplan.kinds.connection import ConnectionKind
from flowplan.kinds.dataflow import DataflowKind
from flowplan.kinds.mapping import MappingKind
from flowplan.kinds.source import SourceKind
from flowplan.kinds.target import TargetKind

if TYPE_CHECKING:
    from flowplan.flowservice.specs import SpecCatalog


def default_kinds(catalog: SpecCatalog | None = None) -> tuple[Kind, ...]:
    """Every built-in kind, referenced kinds before the kinds that reference them."""
    return (ConnectionKind(catalog), SourceKind(), TargetKind(), MappingKind(), DataflowKind())


def kind_named(name: str, catalog: SpecCatalog | None = None) -> Kind:
    for kind in default_kinds(catalog):
        if kind.name == name:
            return kind
    raise KeyError(name)
