"""Target connections (`targets:` → `POST /targetConnections`): the Data Lake dataset and XDM
schema a dataflow writes to.

Attributes: name, description, `data.schema` {id, version}, `params.dataSetId` and the Data
Lake `connectionSpec`. Name and description change in place; a new dataset or schema replaces
the target and the dataflows that use it. Adopted by name and dataset.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from flowplan.flowservice.client import is_plain_filter_value
from flowplan.kinds.base import IdOf, KindContext
from flowplan.kinds.common import (
    PipelineKind,
    item_text,
    malformed,
    optional_text,
    remote_of,
)
from flowplan.model import Address, Attrs, Desired, Remote

DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
DEFAULT_SCHEMA_VERSION = "application/vnd.adobe.xed-full+json;version=1"


class TargetKind(PipelineKind):
    name = "target"
    collection = "targetConnections"
    noun = "target connection"

    def build(
        self, key: str, entry: Mapping[str, Any], ctx: KindContext, problems: list[str]
    ) -> Desired | None:
        attributes = {
            "name": ctx.text(entry.get("name"), "name", problems),
            "description": ctx.text(entry.get("description"), "description", problems),
            "data": {
                "schema": {
                    "id": ctx.text(entry.get("schema"), "schema", problems),
                    "version": entry.get("schemaVersion", DEFAULT_SCHEMA_VERSION),
                }
            },
            "params": {"dataSetId": ctx.text(entry.get("dataset"), "dataset", problems)},
            "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
        }
        return Desired(Address(self.name, key), attributes, protect=bool(entry.get("protect")))

    def identity(self, attributes: Attrs) -> Hashable | None:
        return (attributes.get("name"), attributes["params"].get("dataSetId"))

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        name = attributes.get("name")
        plain = isinstance(name, str) and is_plain_filter_value(name)
        return [f"connectionSpec.id=={DATA_LAKE_SPEC}"] + ([f"name=={name}"] if plain else [])

    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        try:
            schema = (item.get("data") or {}).get("schema") or {}
            spec = item.get("connectionSpec") or {}
            params = item.get("params") or {}
            return remote_of(
                item,
                etag,
                {
                    "name": item_text(item, "name"),
                    "description": optional_text(item, "description"),
                    "data": {"schema": {"id": schema.get("id"), "version": schema.get("version")}},
                    "params": {"dataSetId": params.get("dataSetId")},
                    "connectionSpec": {
                        "id": str(spec.get("id", "")).lower(),
                        "version": str(spec.get("version", "1.0")),
                    },
                },
                self.noun,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("target connection", exc) from None

    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        return {k: v for k, v in desired.attributes.items() if v is not None}


def export_entry(remote: Remote) -> dict[str, Any] | None:
    """The manifest entry that declares `remote`; None for a target that is not the lake."""
    attrs = remote.attributes
    if attrs["connectionSpec"]["id"] != DATA_LAKE_SPEC:
        return None
    entry: dict[str, Any] = {"name": attrs["name"]}
    if attrs["description"] is not None:
        entry["description"] = attrs["description"]
    entry["dataset"] = attrs["params"]["dataSetId"]
    entry["schema"] = attrs["data"]["schema"]["id"]
    version = attrs["data"]["schema"]["version"]
    if version not in (None, DEFAULT_SCHEMA_VERSION):
        entry["schemaVersion"] = version
    return entry
