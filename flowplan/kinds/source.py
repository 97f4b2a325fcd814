"""Source connections (`sources:` → `POST /sourceConnections`): which table of a base
connection a dataflow reads.

Attributes: name, description, `baseConnectionId`, the base connection's `connectionSpec`,
`data.format` and `params` (the table in the param the connection type names: HubSpot `path`,
CRM and database sources `tableName`). Name and description change in place; anything else
replaces the source and the dataflows that use it. Adopted by base connection and name.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from flowplan.flowservice.catalog import type_for_spec
from flowplan.flowservice.client import is_plain_filter_value
from flowplan.kinds.base import IdOf, KindContext
from flowplan.kinds.common import (
    UNKNOWN,
    PipelineKind,
    item_text,
    malformed,
    optional_text,
    reference,
    remote_of,
)
from flowplan.model import Address, Attrs, Desired, Remote


class SourceKind(PipelineKind):
    name = "source"
    collection = "sourceConnections"
    noun = "source connection"

    def build(
        self, key: str, entry: Mapping[str, Any], ctx: KindContext, problems: list[str]
    ) -> Desired | None:
        connection, connection_id = reference(
            ctx, "connection", entry.get("connection"), "connection", problems
        )
        base = ctx.resolved.get(connection)
        spec = dict(base.attributes["connectionSpec"]) if base else {"id": "", "version": "1.0"}
        builtin = type_for_spec(spec["id"])
        params = {
            str(k): ctx.text(v, f"params.{k}", problems)
            for k, v in (entry.get("params") or {}).items()
        }
        params[builtin.object_param if builtin else "tableName"] = ctx.text(
            entry.get("object"), "object", problems
        )
        attributes = {
            "name": ctx.text(entry.get("name"), "name", problems),
            "description": ctx.text(entry.get("description"), "description", problems),
            "baseConnectionId": connection_id,
            "connectionSpec": spec,
            "data": {"format": entry.get("format", "tabular")},
            "params": dict(sorted(params.items())),
        }
        return Desired(
            Address(self.name, key),
            attributes,
            protect=bool(entry.get("protect", False)),
            requires=(connection,),
        )

    def identity(self, attributes: Attrs) -> Hashable | None:
        base = attributes.get("baseConnectionId")
        return None if base in (None, UNKNOWN) else (base, attributes.get("name"))

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        filters = [f"baseConnectionId=={attributes['baseConnectionId']}"]
        name = attributes.get("name")
        if isinstance(name, str) and is_plain_filter_value(name):
            filters.append(f"name=={name}")
        return filters

    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        try:
            spec = item.get("connectionSpec") or {}
            data = item.get("data") or {}
            return remote_of(
                item,
                etag,
                {
                    "name": item_text(item, "name"),
                    "description": optional_text(item, "description"),
                    "baseConnectionId": item_text(item, "baseConnectionId"),
                    "connectionSpec": {
                        "id": str(spec.get("id", "")).lower(),
                        "version": str(spec.get("version", "1.0")),
                    },
                    "data": {"format": data.get("format")},
                    "params": dict(sorted((item.get("params") or {}).items())),
                },
                self.noun,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("source connection", exc) from None

    def recorded(self, desired: Desired, id_of: IdOf) -> Attrs:
        (connection,) = desired.requires
        return {**desired.attributes, "baseConnectionId": id_of(connection).id}

    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        attrs = self.recorded(desired, id_of)
        body = {k: v for k, v in attrs.items() if v is not None}
        return body


def export_entry(remote: Remote, connection_key: str) -> dict[str, Any]:
    """The manifest entry that declares `remote` (its base connection exported as a key)."""
    attrs = remote.attributes
    builtin = type_for_spec(attrs["connectionSpec"]["id"])
    object_param = builtin.object_param if builtin else "tableName"
    params = dict(attrs["params"])
    entry: dict[str, Any] = {"connection": connection_key, "name": attrs["name"]}
    if attrs["description"] is not None:
        entry["description"] = attrs["description"]
    entry["object"] = params.pop(object_param, "")
    if attrs["data"]["format"] not in (None, "tabular"):
        entry["format"] = attrs["data"]["format"]
    if params:
        entry["params"] = params
    return entry
