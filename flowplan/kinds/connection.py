"""Base connections (`connections:` → `POST /connections`): the credentials of a source.

Attributes, as planned and recorded: `connectionSpec` {id, version}, `name`, `description`,
`authSpecName` and the non-secret auth `params`. Secret params (those the auth spec marks
`format: password`) are never read back: they are compared by fingerprint. In place: name,
description and auth params (`PATCH` with `If-Match`); a changed connection spec or auth spec
is a replace. Adopted by connection spec and name.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from flowplan import redact
from flowplan.errors import PlanError, ReferenceResolutionError
from flowplan.flowservice.catalog import type_for_spec
from flowplan.flowservice.client import is_plain_filter_value
from flowplan.kinds.base import IdOf, Kind, KindContext
from flowplan.kinds.common import answer_object, remote_of
from flowplan.model import Address, Attrs, Desired, DesiredConnection, Remote, SecretValue
from flowplan.references.resolver import Template

if TYPE_CHECKING:
    from flowplan.flowservice.specs import SpecCatalog
    from flowplan.model.changes import Change


def attributes(
    spec_id: str,
    spec_version: str,
    name: str,
    description: str | None,
    auth_spec_name: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "connectionSpec": {"id": spec_id, "version": spec_version},
        "name": name,
        "description": description,
        "authSpecName": auth_spec_name,
        "params": dict(sorted(params.items())),
    }


class ConnectionKind(Kind):
    name = "connection"
    collection = "connections"
    noun = "connection"

    def __init__(self, catalog: SpecCatalog | None = None) -> None:
        self.catalog = catalog  # drops secret params from what the API returns

    # --- the manifest -------------------------------------------------------------------------

    def desired(self, ctx: KindContext) -> dict[str, Desired]:
        missing: list[str] = []
        out: dict[str, Desired] = {}
        for key, conn in ctx.manifest.connections.items():
            problems: list[str] = []
            out[key] = self._resolve(key, conn, ctx, problems)
            missing += [f"connections.{key}: {p}" for p in problems]
        if missing:
            raise ReferenceResolutionError(
                "cannot read the manifest's references:\n  " + "\n  ".join(missing)
            )
        return out

    def _resolve(
        self, key: str, conn: DesiredConnection, ctx: KindContext, problems: list[str]
    ) -> Desired:
        auth = ctx.catalog.auth_spec(conn.spec.id, conn.auth_spec_name)
        if auth is None:
            raise PlanError(
                f"{key}: connection spec {conn.spec.id} has no auth spec {conn.auth_spec_name!r}"
            )
        secret_names = conn.secret_params if conn.secret_params is not None else auth.secret_params
        name = ctx.resolver.resolve(conn.name, problems)
        description = ctx.resolver.resolve(conn.description, problems) if conn.description else None
        params: dict[str, Any] = {}
        secrets: dict[str, SecretValue] = {}
        for param, value in conn.params.items():
            if not isinstance(value, Template):
                params[param] = value
                continue
            text = ctx.resolver.resolve(value, problems, secret=param in secret_names)
            if param in secret_names:
                redact.register(text)
                secrets[param] = SecretValue(text)
            else:
                params[param] = text
        return Desired(
            address=Address(self.name, key),
            attributes=attributes(
                conn.spec.id, conn.spec.version, name, description, auth.name, params
            ),
            protect=conn.protect,
            secrets=secrets,
        )

    # --- reading the remote -------------------------------------------------------------------

    def parse_remote(self, item: Mapping[str, Any], etag: str | None) -> Remote:
        auth = answer_object(item, "auth", "connection")
        spec = answer_object(item, "connectionSpec", "connection")
        params = answer_object(auth, "params", "connection")
        spec_id = str(spec.get("id", "")).lower()
        auth_spec_name = str(auth.get("specName", ""))
        if self.catalog is not None:
            secret = self.catalog.secret_params(spec_id, auth_spec_name)
            params = {k: v for k, v in params.items() if k not in secret}
        description = item.get("description")
        attrs = attributes(
            spec_id,
            str(spec.get("version") or "1.0"),
            str(item.get("name", "")),
            None if description is None else str(description),
            auth_spec_name,
            params,
        )
        return remote_of(item, etag, attrs, self.noun, state=str(item.get("state", "")))

    def spec_id(self, attributes: Attrs) -> str:
        return str(attributes["connectionSpec"]["id"])

    def export_entry(self, remote: Remote) -> tuple[dict[str, Any], list[str]]:
        """The manifest entry that declares `remote`, and its secret params, which the caller
        fills with placeholders (the API never returns their values)."""
        attrs = remote.attributes
        spec = attrs["connectionSpec"]
        auth = self.catalog.auth_spec(spec["id"], attrs["authSpecName"]) if self.catalog else None
        secret = auth.secret_params if auth else frozenset()
        declared = set(auth.properties) if auth else set(attrs["params"])
        body: dict[str, Any] = {}
        builtin = type_for_spec(spec["id"])
        if builtin is not None:
            body["type"] = builtin.name
        else:
            body["connectionSpec"] = dict(spec)
        body["name"] = attrs["name"]
        if attrs["description"] is not None:
            body["description"] = attrs["description"]
        params: dict[str, Any] = {}
        secret_params = []
        for param in sorted(declared | set(attrs["params"])):
            if param in secret:
                secret_params.append(param)
                params[param] = None  # a placeholder, set by the caller
            elif param in attrs["params"]:
                value = attrs["params"][param]
                params[param] = value.replace("${", "$${") if isinstance(value, str) else value
        auth_body: dict[str, Any] = {}
        if builtin is None or attrs["authSpecName"] != builtin.default_auth_spec.name:
            auth_body["specName"] = attrs["authSpecName"]
        auth_body["params"] = params
        body["auth"] = auth_body
        return body, secret_params

    def identity(self, attributes: Attrs) -> Hashable | None:
        return (attributes["connectionSpec"]["id"], attributes["name"])

    def name_filters(self, attributes: Attrs) -> list[str] | None:
        filters = [f"connectionSpec.id=={attributes['connectionSpec']['id']}"]
        name = attributes["name"]
        if is_plain_filter_value(name):
            filters.append(f"name=={name}")
        return filters

    def remote_queries(self, managed_ids: Any, unmanaged: Any) -> list[list[str]]:
        """Names are batched per spec (`name==a,b,…`); a name a filter cannot carry exactly
        (commas, quotes…) makes its spec listed whole."""
        queries = super().remote_queries(managed_ids, ())
        names: dict[str, set[str]] = {}
        for desired in unmanaged:
            attrs = desired.attributes
            names.setdefault(attrs["connectionSpec"]["id"], set()).add(attrs["name"])
        for spec_id, spec_names in sorted(names.items()):
            queries += _name_batches(f"connectionSpec.id=={spec_id}", spec_names)
        return queries

    # --- comparing ----------------------------------------------------------------------------

    def replace_reason(self, before: Attrs, after: Attrs) -> str:
        """Flow Service cannot PATCH the spec (1414), nor the auth spec: only /name,
        /description and /auth/params are documented as patchable."""
        if before["connectionSpec"] != after["connectionSpec"]:
            return "connection spec"
        if before["authSpecName"] != after["authSpecName"]:
            return "auth spec"
        return ""

    def display(self, attributes: Attrs) -> list[tuple[str, str]]:
        from flowplan.kinds.base import _shown

        spec = attributes["connectionSpec"]
        lines = [
            ("name          ", _shown(attributes["name"])),
            ("description   ", _shown(attributes["description"])),
            ("connectionSpec", f"{spec['id']} ({spec['version']})"),
            ("auth.specName ", _shown(attributes["authSpecName"])),
        ]
        lines += [(f"auth.params.{k}", _shown(v)) for k, v in attributes["params"].items()]
        return lines

    def secret_label(self, name: str) -> str:
        return f"auth.params.{name}"

    # --- changing the remote ------------------------------------------------------------------

    def create_body(self, desired: Desired, id_of: IdOf) -> dict[str, Any]:
        attrs = desired.attributes
        body: dict[str, Any] = {
            "name": attrs["name"],
            "auth": {"specName": attrs["authSpecName"], "params": _auth_params(desired)},
            "connectionSpec": dict(attrs["connectionSpec"]),
        }
        if attrs["description"] is not None:
            body["description"] = attrs["description"]
        return body

    def patch_ops(self, change: Change, desired: Desired, id_of: IdOf) -> list[dict[str, Any]]:
        """JSON Patch at the documented paths; /auth/params replaced whole, only when needed."""
        ops: list[dict[str, Any]] = []
        changed = {f.field for f in change.fields}
        attrs = desired.attributes
        if "name" in changed:
            ops.append({"op": "replace", "path": "/name", "value": attrs["name"]})
        if "description" in changed:
            before = change.before.get("description") if change.before else None
            if attrs["description"] is None:
                ops.append({"op": "remove", "path": "/description"})
            else:
                op = "replace" if before is not None else "add"
                ops.append({"op": op, "path": "/description", "value": attrs["description"]})
        if change.sends_secrets or any(f.startswith("params.") for f in changed):
            ops.append({"op": "replace", "path": "/auth/params", "value": _auth_params(desired)})
        return ops


def _auth_params(desired: Desired) -> dict[str, Any]:
    return {**desired.attributes["params"], **{k: v.reveal() for k, v in desired.secrets.items()}}


def _name_batches(spec_filter: str, names: set[str]) -> list[list[str]]:
    from flowplan.kinds.base import NAME_CHARS_PER_QUERY

    if not all(is_plain_filter_value(n) for n in names):
        return [[spec_filter]]
    queries: list[list[str]] = []
    batch: list[str] = []
    size = 0  # characters of the batch's names, each with its comma
    for name in sorted(names):
        if batch and size + len(name) > NAME_CHARS_PER_QUERY:
            queries.append([spec_filter, f"name=={','.join(batch)}"])
            batch, size = [], 0
        batch.append(name)
        size += len(name) + 1
    queries.append([spec_filter, f"name=={','.join(batch)}"])
    return queries
