"""What a resource kind is: everything the engine needs to know about one kind of resource.

The planner, applier and renderers are generic; a kind says which manifest section it reads and
how an entry becomes a request body, which API collection holds it, which fields change in
place and which force a replace, which are secret, how a remote resource is matched for
adoption, and which other resources it references. Adding a kind is adding a module and
registering it (flowplan/kinds/__init__.py).
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flowplan.errors import ApiError, NotFoundError
from flowplan.model import Address, Attrs, Desired, Manifest, Remote

if TYPE_CHECKING:
    from flowplan.flowservice.client import FlowServiceClient
    from flowplan.flowservice.specs import SpecCatalog
    from flowplan.model.changes import Change, FieldChange
    from flowplan.references.resolver import Resolver
    from flowplan.state.model import StateEntry

IDS_PER_QUERY = 100  # one page each; ~3.7 KB of ids, well under common 8 KiB URL limits
NAME_CHARS_PER_QUERY = 2000


def _merged(fields: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[list[str]]:
    """`field==a,b,…` filter sets covering every row, each value list at most
    NAME_CHARS_PER_QUERY characters long."""
    queries: list[list[str]] = []
    batch: list[dict[str, None]] = [{} for _ in fields]
    for row in rows:
        if any(
            len(column) and sum(len(v) + 1 for v in column) + len(value) > NAME_CHARS_PER_QUERY
            for column, value in zip(batch, row, strict=True)
        ):
            queries.append([f"{f}=={','.join(c)}" for f, c in zip(fields, batch, strict=True)])
            batch = [{} for _ in fields]
        for column, value in zip(batch, row, strict=True):
            column[value] = None
    queries.append([f"{f}=={','.join(c)}" for f, c in zip(fields, batch, strict=True)])
    return queries


IdOf = Callable[[Address], "StateEntry"]
"""What the state records of a referenced resource (its id, its etag or version), known once
it exists: at apply time."""


@dataclass
class KindContext:
    """What a kind may use while turning the manifest into desired resources."""

    manifest: Manifest
    resolver: Resolver
    catalog: SpecCatalog
    fingerprint: Callable[[str, str], str]
    state_entry: Callable[[Address], StateEntry | None]  # what the state records (plan time)
    resolved: dict[Address, Desired] = field(default_factory=dict)  # kinds resolved so far

    def state_id(self, address: Address) -> str | None:
        entry = self.state_entry(address)
        return entry.id if entry is not None else None

    def text(self, value: Any, where: str, problems: list[str]) -> Any:
        """A non-secret value with its `${env:}`/`${file:}` references read; a problem names
        the field (`where`) it came from."""
        if not isinstance(value, str) or "${" not in value:
            return value
        from flowplan.references.template import parse

        missing: list[str] = []
        text = self.resolver.resolve(parse(value), missing)
        problems += [f"{where}: {problem}" for problem in missing]
        return text


class Kind(ABC):
    name: ClassVar[str]  # the address prefix: `connection`
    collection: ClassVar[str]  # the API collection: `connections`
    service: ClassVar[str] = "flow"  # "flow" (Flow Service) or "conversion" (Data Prep)
    noun: ClassVar[str]  # for messages: "connection"
    create_before_destroy: ClassVar[bool] = False  # a replace creates the new one first
    deletable: ClassVar[bool] = True  # mapping sets cannot be deleted: forgotten instead

    @property
    def section(self) -> str:
        return f"{self.name}s"

    # --- the manifest -------------------------------------------------------------------------

    @abstractmethod
    def desired(self, ctx: KindContext) -> dict[str, Desired]:
        """Every entry of this kind's section, references resolved. Problems are raised
        together as one ReferenceResolutionError or PlanError naming each address."""

    # --- reading the remote -------------------------------------------------------------------

    @abstractmethod
    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        """One API item as a Remote; secret values dropped; raises ApiError when malformed."""

    @abstractmethod
    def identity(self, attributes: Attrs) -> Hashable | None:
        """What adoption matches on (a connection: spec and name); None: never adopted."""

    def linked(self, remote: Remote) -> dict[str, str]:
        """Kind -> id of the resources an existing one uses (an adopted dataflow brings its
        source, target and mapping set along)."""
        return {}

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        """`property=` filters that find the resources with this identity; None: list all."""
        return None

    def remote_queries(
        self, managed_ids: Sequence[str], unmanaged: Sequence[Desired]
    ) -> list[list[str]]:
        """Filter sets that find every remote resource the plan needs, in few requests:
        managed ones by id (100 per request), adoption candidates by name."""
        ids = sorted(set(managed_ids))
        queries = [
            [f"id=={','.join(ids[i : i + IDS_PER_QUERY])}"]
            for i in range(0, len(ids), IDS_PER_QUERY)
        ]
        # identity filters merged per set of fields (`name==a,b,…`: comma is OR, as connections
        # do it): the planner matches what comes back by identity, so a wider answer is safe
        groups: dict[tuple[str, ...], dict[tuple[str, ...], None]] = {}
        for desired in unmanaged:
            filters = self.name_filters(desired.attributes)
            split = [f.partition("==") for f in filters or ()]
            if filters is not None and all(sep and "," not in v for _, sep, v in split):
                fields = tuple(f for f, _, _ in split)
                groups.setdefault(fields, {})[tuple(v for _, _, v in split)] = None
            elif list(filters or ()) not in queries:
                queries.append(list(filters or ()))
        for fields, values in groups.items():
            queries += _merged(fields, list(values)) if fields else [[]]
        return queries

    def list_remote(self, client: FlowServiceClient, filters: Sequence[str]) -> list[Remote]:
        return [self.parse_remote(item, None) for item in client.list(self.collection, filters)]

    def fetch(self, client: FlowServiceClient, resource_id: str) -> Remote:
        fetched = client.get(self.collection, resource_id)
        return self.parse_remote(fetched.body, fetched.etag)

    # --- comparing ----------------------------------------------------------------------------

    def replace_reason(self, before: Attrs, after: Attrs) -> str:
        """Why the change cannot be made in place ("" when it can)."""
        return ""

    def refuse_update(self, before: Attrs, after: Attrs) -> str:
        """Why an in-place update is refused outright ("" when it is not)."""
        return ""

    def diff(self, before: Attrs, after: Attrs) -> tuple[FieldChange, ...]:
        from flowplan.model.diff import diff_attributes

        return diff_attributes(before, after)

    def display(self, attributes: Attrs) -> list[tuple[str, str]]:
        """Label and shown value of each attribute, in the order a plan lists them."""
        return [(label, _shown(value)) for label, value in flatten(attributes)]

    def secret_label(self, name: str) -> str:
        return f"params.{name}"

    # --- changing the remote ------------------------------------------------------------------

    @abstractmethod
    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        """The POST body; references become the ids of what they name."""

    @abstractmethod
    def patch_ops(self, change: Change, desired: Desired, id_of: IdOf) -> list[dict[str, Any]]:
        """The JSON Patch of an in-place update ([] when nothing remote changes)."""

    def recorded(self, desired: Desired, id_of: IdOf) -> Attrs:
        """The attributes the state records once applied: references as the ids they got."""
        return desired.attributes

    def create(self, client: FlowServiceClient, desired: Desired, id_of: IdOf) -> tuple[str, str]:
        created = client.create(self.collection, self.create_body(desired, id_of))
        return created.id, created.etag or ""

    def update(
        self, client: FlowServiceClient, change: Change, desired: Desired, id_of: IdOf
    ) -> str | None:
        """Send the update; the new etag, or None when nothing needed sending."""
        if change.id is None or change.etag is None:
            raise ApiError(f"{change.address}: an update needs the id and etag seen at plan time")
        ops = self.patch_ops(change, desired, id_of)
        if not ops:
            return None
        return client.patch(self.collection, change.id, change.etag, ops)

    def delete(self, client: FlowServiceClient, resource_id: str) -> None:
        with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
            client.delete(self.collection, resource_id)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested objects as dotted labels: {"a": {"b": 1}} -> [("a.b", 1)]."""
    if isinstance(value, Mapping) and value:
        out: list[tuple[str, Any]] = []
        for key in value:
            out += flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    return [(prefix, value)]


def _shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)
