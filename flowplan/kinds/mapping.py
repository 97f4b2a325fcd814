"""Mapping sets (`mappings:` → Data Prep `POST /mappingSets`): how source columns become XDM
fields.

Data Prep is not Flow Service: a create answers 200 with `{id, version}` and no etag, a change
is `PUT /mappingSets/{id}` writing a new version (no If-Match), and a set cannot be deleted:
one removed from the manifest is forgotten from the state. The state's `etag` of a mapping set
is its version. Mapping sets have no name, so they are never adopted, and one whose create got
no answer cannot be found again: another may be created, and the orphan is harmless.
Data Prep reads an ATTRIBUTE mapping's source type back as `text/x.schema-path`; it is
compared as ATTRIBUTE.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowplan.errors import ApiError
from flowplan.kinds.base import IdOf, KindContext
from flowplan.kinds.common import PipelineKind, malformed, remote_of
from flowplan.model import Address, Attrs, Desired, Remote

if TYPE_CHECKING:
    from flowplan.flowservice.client import FlowServiceClient
    from flowplan.model.changes import Change

SOURCE_TYPES = {"attribute": "ATTRIBUTE", "expression": "EXPRESSION"}
READ_BACK = {
    "text/x.schema-path": "ATTRIBUTE",
    "ATTRIBUTE": "ATTRIBUTE",
    "EXPRESSION": "EXPRESSION",
}


class MappingKind(PipelineKind):
    name = "mapping"
    collection = "mappingSets"
    service = "conversion"
    noun = "mapping set"
    deletable = False

    def build(
        self, key: str, entry: Mapping[str, Any], ctx: KindContext, problems: list[str]
    ) -> Desired | None:
        mappings = [
            {
                "sourceType": SOURCE_TYPES[str(field.get("type", "attribute"))],
                "source": ctx.text(field.get("source"), "fields.source", problems),
                "destination": ctx.text(field.get("destination"), "fields.destination", problems),
            }
            for field in entry.get("fields") or []
        ]
        attributes = {
            "xdmSchema": ctx.text(entry.get("schema"), "schema", problems),
            "xdmVersion": "1.0",
            "mappings": mappings,
        }
        return Desired(Address(self.name, key), attributes)

    def identity(self, attributes: Attrs) -> Hashable | None:
        return None  # no name: never adopted, never looked up

    def remote_queries(
        self, managed_ids: Sequence[str], unmanaged: Sequence[Desired]
    ) -> list[list[str]]:
        """Data Prep has no `property=` filter: one listing (paged by 100) finds them all
        (new keys too: an adopted dataflow may bring its mapping set along)."""
        return [[]] if managed_ids or unmanaged else []

    def list_remote(self, client: FlowServiceClient, filters: Sequence[str]) -> list[Remote]:
        items = client.list(self.collection, filters, service="conversion")
        return [self.parse_remote(item, None) for item in items]

    def fetch(self, client: FlowServiceClient, resource_id: str) -> Remote:
        fetched = client.get(self.collection, resource_id, service="conversion")
        return self.parse_remote(fetched.body, None)

    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        try:
            mappings = [
                {
                    "sourceType": READ_BACK.get(str(m.get("sourceType")), str(m.get("sourceType"))),
                    "source": m.get("source"),
                    "destination": m.get("destination"),
                }
                for m in item.get("mappings") or []
            ]
            return remote_of(
                item,
                str(item["version"]),
                {
                    "xdmSchema": item.get("xdmSchema"),
                    "xdmVersion": str(item.get("xdmVersion", "1.0")),
                    "mappings": mappings,
                },
                self.noun,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("mapping set", exc) from None

    def replace_reason(self, before: Attrs, after: Attrs) -> str:
        return ""  # every change is a new version (PUT)

    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        return {"version": 0, **desired.attributes}

    def patch_ops(self, change: Change, desired: Desired, id_of: IdOf) -> list[dict[str, Any]]:
        return []  # not used: a change is a PUT of the whole set

    def create(self, client: FlowServiceClient, desired: Desired, id_of: IdOf) -> tuple[str, str]:
        created = client.create(
            self.collection, self.create_body(desired, id_of), service="conversion"
        )
        return created.id, str(created.body.get("version", 0))

    def update(
        self, client: FlowServiceClient, change: Change, desired: Desired, id_of: IdOf
    ) -> str | None:
        if change.id is None:
            raise ApiError(f"{change.address}: an update needs the mapping set's id")
        if not any(f.field != "protect" for f in change.fields):
            return None
        answer = client.put(self.collection, change.id, dict(desired.attributes))
        version = answer.get("version")
        if not isinstance(version, int):
            raise ApiError("Data Prep answered a mapping set update without its new version")
        return str(version)


def export_entry(remote: Remote) -> dict[str, Any]:
    attrs = remote.attributes
    fields = []
    for mapping in attrs["mappings"]:
        field: dict[str, Any] = {"source": mapping["source"], "destination": mapping["destination"]}
        if mapping["sourceType"] == "EXPRESSION":
            field["type"] = "expression"
        fields.append(field)
    return {"schema": attrs["xdmSchema"], "fields": fields}
