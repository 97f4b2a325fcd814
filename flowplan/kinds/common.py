"""What the pipeline kinds share: reading a manifest section, name/description patches, and
references to other resources, which become ids known at plan time (from the state) or only
at apply time (after the referenced resource is created)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from flowplan.errors import ApiError, ReferenceResolutionError
from flowplan.flowservice import dates
from flowplan.flowservice.answers import Where
from flowplan.flowservice.client import is_plain_filter_value
from flowplan.kinds.base import IdOf, Kind, KindContext
from flowplan.model import Address, Attrs, Desired, Remote

if TYPE_CHECKING:
    from flowplan.model.changes import Change

UNKNOWN = "(known after apply)"


class PipelineKind(Kind):
    """A Flow Service resource with a name and description patched in place; everything else
    a replace (Adobe: source and target connections must not be edited in place)."""

    in_place: tuple[str, ...] = ("name", "description")

    def desired(self, ctx: KindContext) -> dict[str, Desired]:
        problems: list[str] = []
        out: dict[str, Desired] = {}
        for key, entry in ctx.manifest.sections.get(self.section, {}).items():
            before = len(problems)
            resource = self.build(key, entry, ctx, problems)
            problems[before:] = [f"{self.section}.{key}: {p}" for p in problems[before:]]
            if resource is not None:
                out[key] = resource
        if problems:
            raise ReferenceResolutionError(
                "cannot read the manifest's references:\n  " + "\n  ".join(problems)
            )
        return out

    def build(
        self, key: str, entry: Mapping[str, Any], ctx: KindContext, problems: list[str]
    ) -> Desired | None:
        raise NotImplementedError

    def identity(self, attributes: Attrs) -> Hashable | None:
        return attributes.get("name")

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        name = attributes.get("name")
        return [f"name=={name}"] if isinstance(name, str) and is_plain_filter_value(name) else []

    def replace_reason(self, before: Attrs, after: Attrs) -> str:
        changed = [
            k for k in {*before, *after} - set(self.in_place) if before.get(k) != after.get(k)
        ]
        if not changed:
            return ""
        return f"{', '.join(sorted(changed))} of a {self.noun}"

    def patch_ops(self, change: Change, desired: Desired, id_of: IdOf) -> list[dict[str, Any]]:
        return name_description_ops(change, desired.attributes)


def name_description_ops(change: Change, attrs: Attrs) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    changed = {f.field for f in change.fields}
    if "name" in changed:
        ops.append({"op": "replace", "path": "/name", "value": attrs["name"]})
    if "description" in changed:
        before = change.before.get("description") if change.before else None
        if attrs.get("description") is None:
            ops.append({"op": "remove", "path": "/description"})
        else:
            op = "replace" if before is not None else "add"
            ops.append({"op": op, "path": "/description", "value": attrs["description"]})
    return ops


def reference(
    ctx: KindContext, kind: str, key: Any, field: str, problems: list[str]
) -> tuple[Address, str]:
    """The address a manifest reference names and the id it has now (or UNKNOWN until it is
    created). validate has already refused dangling references; this is a second guard."""
    address = Address(kind, str(key))
    if address not in ctx.resolved:
        problems.append(f"{field}: no {kind} {key!r} in the manifest")
        return address, UNKNOWN
    return address, ctx.state_id(address) or UNKNOWN


def item_text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(f"the API returned {name} of an unexpected type")
    return value


def optional_text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value if isinstance(value, str) else None


ANSWER = Where("GET", "the answer")


def epoch_ms(value: Any, what: str = "updatedAt") -> int:
    """A date as the API sends it (ms, s, or ISO 8601); a clear error for anything else."""
    return dates.epoch_ms(value, what, ANSWER)


def answer_object(parent: Mapping[str, Any], key: str, noun: str) -> dict[str, Any]:
    """`parent[key]` when it is an object ({} when absent); a clear error otherwise."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ANSWER.error(f"`{key}` of a {noun} in the answer is not an object")
    return dict(value)


def remote_of(
    item: Mapping[str, Any], etag: str | None, attributes: Attrs, noun: str, **extra: Any
) -> Remote:
    """An API item as a Remote: its id, its etag (in the item, or the answer's header), its
    compared `attributes`, and who last changed it and when."""
    resource_id = item.get("id")
    if not isinstance(resource_id, str) or not resource_id:
        raise malformed(noun, KeyError("id"))
    return Remote(
        id=resource_id,
        etag=str(item.get("etag") or etag or ""),
        attributes=attributes,
        updated_by=str(item.get("updatedBy") or ""),
        updated_at=epoch_ms(item.get("updatedAt"), f"updatedAt of {noun} {resource_id}"),
        updated_client=str(item.get("updatedClient") or ""),
        extra=extra,
    )


def malformed(noun: str, exc: Exception) -> ApiError:
    return ANSWER.error(
        f"the service returned a malformed {noun} ({exc.__class__.__name__}: {exc})"
    )
