"""`flowplan export` for pipelines: the sandbox's sources, targets, mapping sets and dataflows
as manifest sections that refer to each other by key.

A source is exported when its base connection is; a dataflow when its source and target are;
a mapping set when a dataflow uses it (Data Prep cannot list them by use). What is left out is
said in the header, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowplan.errors import NotFoundError
from flowplan.flowservice.client import FlowServiceClient
from flowplan.kinds import dataflow, mapping, source, target
from flowplan.model import Remote


@dataclass
class Pipelines:
    sources: Sequence[Remote]
    targets: Sequence[Remote]
    flows: Sequence[Remote]
    mappings: dict[str, Remote] = field(default_factory=dict)  # by id, those the flows use

    @classmethod
    def read(cls, client: FlowServiceClient) -> Pipelines:
        found = cls(
            source.SourceKind().list_remote(client, ()),
            target.TargetKind().list_remote(client, ()),
            dataflow.DataflowKind().list_remote(client, ()),
        )
        kind = mapping.MappingKind()
        for flow in found.flows:
            mapping_id = dataflow.DataflowKind().linked(flow).get("mapping")
            if mapping_id and mapping_id not in found.mappings:
                try:
                    found.mappings[mapping_id] = kind.fetch(client, mapping_id)
                except NotFoundError:
                    continue
        return found


def pipeline_sections(
    found: Pipelines, connection_keys: dict[str, str], key_for: Callable[[str, set[str]], str]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The four sections and the header notes of what could not be exported."""
    notes: list[str] = []
    sections: dict[str, dict[str, Any]] = {s: {} for s in ("sources", "targets", "mappings")}
    sections["dataflows"] = {}
    keys: dict[str, str] = {}  # remote id -> key, across kinds (ids are unique)
    taken: dict[str, set[str]] = {s: set() for s in sections}
    for remote in sorted(found.sources, key=_by_name):
        connection = connection_keys.get(remote.attributes["baseConnectionId"])
        if connection is None:
            notes.append(f"source {remote.id}: its base connection is not exported")
            continue
        keys[remote.id] = key_for(remote.attributes["name"], taken["sources"])
        sections["sources"][keys[remote.id]] = source.export_entry(remote, connection)
    for remote in sorted(found.targets, key=_by_name):
        entry = target.export_entry(remote)
        if entry is not None:
            keys[remote.id] = key_for(remote.attributes["name"], taken["targets"])
            sections["targets"][keys[remote.id]] = entry
    for remote in sorted(found.flows, key=_by_name):
        linked = dataflow.DataflowKind().linked(remote)
        if linked.get("source") not in keys or linked.get("target") not in keys:
            notes.append(f"dataflow {remote.id}: its source or target is not exported")
            continue
        key = key_for(remote.attributes["name"], taken["dataflows"])
        mapping_key = None
        used = found.mappings.get(linked.get("mapping", ""))
        if used is not None:
            mapping_key = keys.get(used.id) or key_for(f"{key}-map", taken["mappings"])
            keys[used.id] = mapping_key
            sections["mappings"][mapping_key] = mapping.export_entry(used)
        sections["dataflows"][key] = dataflow.export_entry(
            remote, keys[linked["source"]], keys[linked["target"]], mapping_key
        )
    return {k: v for k, v in sections.items() if v}, notes


def _by_name(remote: Remote) -> tuple[str, str]:
    return (str(remote.attributes.get("name", "")), remote.id)
