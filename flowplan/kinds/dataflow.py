"""Dataflows (`dataflows:` → `POST /flows`): a source, a target, an optional mapping set, a
schedule.

In place (`PATCH` with `If-Match`): name, description, the schedule (but not a start time that
has already passed: the API refuses it, so the plan does), the Copy transformation's delta
column and the Mapping transformation's version after its mapping set changed. `enabled` goes
through `POST /flows/{id}/action?op=ENABLE|DISABLE`. Another source, target or flow spec is a
replace (the old dataflow is deleted before the new one is created, so two dataflows never feed
one dataset). Adopted by flow spec and name; an adopted dataflow brings its mapping set's id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowplan.flowservice.catalog import type_for_spec
from flowplan.flowservice.client import is_plain_filter_value
from flowplan.kinds.base import IdOf, KindContext
from flowplan.kinds.common import (
    UNKNOWN,
    PipelineKind,
    item_text,
    malformed,
    name_description_ops,
    optional_text,
    reference,
    remote_of,
)
from flowplan.model import Address, Attrs, Desired, Remote

if TYPE_CHECKING:
    from flowplan.flowservice.client import FlowServiceClient
    from flowplan.model.changes import Change

CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"


class DataflowKind(PipelineKind):
    name = "dataflow"
    collection = "flows"
    noun = "dataflow"
    in_place = ("name", "description", "scheduleParams", "transformations", "enabled")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def build(
        self, key: str, entry: Mapping[str, Any], ctx: KindContext, problems: list[str]
    ) -> Desired | None:
        source, source_id = reference(ctx, "source", entry.get("source"), "source", problems)
        target, target_id = reference(ctx, "target", entry.get("target"), "target", problems)
        requires = [source, target]
        transformations: list[dict[str, Any]] = []
        delta = entry.get("deltaColumn")
        if delta is not None:
            column = {"name": delta} if isinstance(delta, str) else dict(delta)
            transformations.append({"name": "Copy", "params": {"deltaColumn": column}})
        if entry.get("mapping") is not None:
            mapping, mapping_id = reference(ctx, "mapping", entry["mapping"], "mapping", problems)
            requires.append(mapping)
            transformations.append(
                {
                    "name": "Mapping",
                    "params": {"mappingId": mapping_id, "mappingVersion": _version(ctx, mapping)},
                }
            )
        attributes = {
            "name": ctx.text(entry.get("name"), "name", problems),
            "description": ctx.text(entry.get("description"), "description", problems),
            "flowSpec": {"id": _flow_spec(ctx, entry, source), "version": "1.0"},
            "sourceConnectionIds": [source_id],
            "targetConnectionIds": [target_id],
            "transformations": transformations,
            "scheduleParams": _schedule(entry.get("schedule") or {}, problems),
            "enabled": bool(entry.get("enabled", True)),
        }
        return Desired(
            Address(self.name, key),
            attributes,
            protect=bool(entry.get("protect", False)),
            requires=tuple(requires),
        )

    def identity(self, attributes: Attrs) -> Hashable | None:
        return (attributes["flowSpec"]["id"], attributes.get("name"))

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        name = attributes.get("name")
        filters = [f"flowSpec.id=={attributes['flowSpec']['id']}"]
        return filters + (
            [f"name=={name}"] if isinstance(name, str) and is_plain_filter_value(name) else []
        )

    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        try:
            spec = item.get("flowSpec") or {}
            schedule = item.get("scheduleParams") or {}
            return remote_of(
                item,
                etag,
                {
                    "name": item_text(item, "name"),
                    "description": optional_text(item, "description"),
                    "flowSpec": {
                        "id": str(spec.get("id", "")).lower(),
                        "version": str(spec.get("version", "1.0")),
                    },
                    "sourceConnectionIds": [str(i) for i in item.get("sourceConnectionIds") or []],
                    "targetConnectionIds": [str(i) for i in item.get("targetConnectionIds") or []],
                    "transformations": [
                        _transformation(t) for t in item.get("transformations") or []
                    ],
                    "scheduleParams": _read_schedule(schedule),
                    "enabled": str(item.get("state", "enabled")).lower() != "disabled",
                },
                self.noun,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("dataflow", exc) from None

    def linked(self, remote: Remote) -> dict[str, str]:
        attrs = remote.attributes
        out = {
            "source": attrs["sourceConnectionIds"][0] if attrs["sourceConnectionIds"] else "",
            "target": attrs["targetConnectionIds"][0] if attrs["targetConnectionIds"] else "",
        }
        for t in attrs["transformations"]:
            if t["name"] == "Mapping" and t["params"].get("mappingId"):
                out["mapping"] = str(t["params"]["mappingId"])
        return {k: v for k, v in out.items() if v}

    def replace_reason(self, before: Attrs, after: Attrs) -> str:
        for name in ("flowSpec", "sourceConnectionIds", "targetConnectionIds"):
            if before.get(name) != after.get(name):
                return f"{name} of a dataflow"
        return ""

    def refuse_update(self, before: Attrs, after: Attrs) -> str:
        old = (before.get("scheduleParams") or {}).get("startTime")
        new = (after.get("scheduleParams") or {}).get("startTime")
        if old != new and old is not None and int(old) <= self.clock():
            return (
                "scheduleParams.startTime cannot change: the dataflow's first run "
                f"({_iso(int(old))}) has already started"
            )
        return ""

    def recorded(self, desired: Desired, id_of: IdOf) -> Attrs:
        attrs = dict(desired.attributes)
        source, target = desired.requires[0], desired.requires[1]
        attrs["sourceConnectionIds"] = [id_of(source).id]
        attrs["targetConnectionIds"] = [id_of(target).id]
        attrs["transformations"] = [
            _with_mapping(t, id_of, desired.requires[2]) if t["name"] == "Mapping" else t
            for t in attrs["transformations"]
        ]
        return attrs

    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        attrs = self.recorded(desired, id_of)
        body = {k: v for k, v in attrs.items() if v is not None and k != "enabled"}
        if not body["transformations"]:
            del body["transformations"]
        return body

    def create(self, client: FlowServiceClient, desired: Desired, id_of: IdOf) -> tuple[str, str]:
        created = client.create(self.collection, self.create_body(desired, id_of))
        etag = created.etag or ""
        if not desired.attributes["enabled"]:
            etag = client.action(self.collection, created.id, "DISABLE") or etag
        return created.id, etag

    def patch_ops(self, change: Change, desired: Desired, id_of: IdOf) -> list[dict[str, Any]]:
        ops = name_description_ops(change, desired.attributes)
        changed = {f.field.split(".")[0].split("[")[0] for f in change.fields}
        attrs = self.recorded(desired, id_of)
        if "scheduleParams" in changed:
            ops.append(
                {"op": "replace", "path": "/scheduleParams", "value": attrs["scheduleParams"]}
            )
        if "transformations" in changed:
            ops.append(
                {"op": "replace", "path": "/transformations", "value": attrs["transformations"]}
            )
        return ops

    def update(
        self, client: FlowServiceClient, change: Change, desired: Desired, id_of: IdOf
    ) -> str | None:
        etag = super().update(client, change, desired, id_of)
        before = change.before or {}
        if change.id is not None and before.get("enabled") != desired.attributes["enabled"]:
            op = "ENABLE" if desired.attributes["enabled"] else "DISABLE"
            etag = client.action(self.collection, change.id, op) or etag
        return etag


def _flow_spec(ctx: KindContext, entry: Mapping[str, Any], source: Address) -> str:
    explicit = entry.get("flowSpec")
    if isinstance(explicit, Mapping):
        return str(explicit.get("id", "")).lower()
    if isinstance(explicit, str):
        return explicit.lower()
    source_desired = ctx.resolved.get(source)
    spec_id = source_desired.attributes["connectionSpec"]["id"] if source_desired else ""
    builtin = type_for_spec(spec_id)
    return builtin.flow_spec_id if builtin else CRM_FLOW_SPEC


def _version(ctx: KindContext, mapping: Address) -> Any:
    """The mapping set's version once applied: the recorded one, plus one when it changes."""
    entry = ctx.state_entry(mapping)
    desired = ctx.resolved.get(mapping)
    if entry is None or desired is None:
        return UNKNOWN
    version = int(entry.etag)
    return version + 1 if dict(entry.attributes) != dict(desired.attributes) else version


def _with_mapping(
    transformation: Mapping[str, Any], id_of: IdOf, mapping: Address
) -> dict[str, Any]:
    applied = id_of(mapping)
    return {
        "name": "Mapping",
        "params": {"mappingId": applied.id, "mappingVersion": int(applied.etag)},
    }


def _schedule(raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    start = raw.get("start")
    schedule: dict[str, Any] = {"frequency": str(raw.get("frequency", "hour"))}
    if schedule["frequency"] != "once":
        schedule["interval"] = int(raw.get("interval", 1))
    schedule["startTime"] = str(_epoch(start, problems))
    schedule["backfill"] = bool(raw.get("backfill", False))
    return dict(sorted(schedule.items()))


def _read_schedule(raw: Mapping[str, Any]) -> dict[str, Any]:
    schedule: dict[str, Any] = {"frequency": str(raw.get("frequency", ""))}
    if raw.get("interval") is not None:
        schedule["interval"] = int(raw["interval"])
    if raw.get("startTime") is not None:
        schedule["startTime"] = str(int(raw["startTime"]))
    schedule["backfill"] = bool(raw.get("backfill", False))
    return dict(sorted(schedule.items()))


def _transformation(raw: Mapping[str, Any]) -> dict[str, Any]:
    name = str(raw.get("name", ""))
    params = raw.get("params") or {}
    if name == "Mapping":
        return {
            "name": name,
            "params": {
                "mappingId": params.get("mappingId"),
                "mappingVersion": int(params.get("mappingVersion", 0)),
            },
        }
    if name == "Copy":
        return {"name": name, "params": {"deltaColumn": dict(params.get("deltaColumn") or {})}}
    return {"name": name, "params": dict(params)}


def _epoch(value: Any, problems: list[str]) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
    problems.append(f"schedule.start {value!r} is not a date and time such as 2026-12-01T00:00:00Z")
    return 0


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def export_entry(remote: Remote, source: str, target: str, mapping: str | None) -> dict[str, Any]:
    """The manifest entry that declares `remote`, referring to the others by key."""
    attrs = remote.attributes
    entry: dict[str, Any] = {"name": attrs["name"]}
    if attrs["description"] is not None:
        entry["description"] = attrs["description"]
    entry |= {"source": source, "target": target}
    if mapping is not None:
        entry["mapping"] = mapping
    for t in attrs["transformations"]:
        column = t["params"].get("deltaColumn") if t["name"] == "Copy" else None
        if column:
            entry["deltaColumn"] = column["name"] if list(column) == ["name"] else dict(column)
    schedule = attrs["scheduleParams"]
    exported: dict[str, Any] = {"frequency": schedule.get("frequency", "hour")}
    if "interval" in schedule:
        exported["interval"] = schedule["interval"]
    if "startTime" in schedule:
        exported["start"] = _iso(int(schedule["startTime"]))
    exported["backfill"] = schedule.get("backfill", False)
    entry["schedule"] = exported
    if not attrs["enabled"]:
        entry["enabled"] = False
    if attrs["flowSpec"]["id"] != CRM_FLOW_SPEC:
        entry["flowSpec"] = dict(attrs["flowSpec"])
    return entry
