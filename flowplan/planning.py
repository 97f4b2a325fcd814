"""Making a plan: resolve the manifest's references, read the sandbox, call the planner.

The remote side is read in one paged listing (100 per page) of the connections whose spec the
manifest or the state uses, so N managed connections cost ceil(N/100) requests, plus one
connection-spec request per spec flowplan has no built-in knowledge of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flowplan import planner
from flowplan.client import FlowServiceClient
from flowplan.connection_types import AuthSpec, type_for_spec
from flowplan.errors import PlanError, ReferenceResolutionError
from flowplan.model import (
    Attributes,
    DesiredRecord,
    Manifest,
    RemoteConnection,
    ResolvedConnection,
    SecretValue,
)
from flowplan.plan import Plan
from flowplan.refs import Resolver, Template
from flowplan.state import State


class SpecCatalog:
    """Auth specs by connection spec id: built in, or fetched once from Flow Service."""

    def __init__(self, client: FlowServiceClient | None) -> None:
        self.client = client
        self._fetched: dict[str, tuple[AuthSpec, ...]] = {}

    def auth_specs(self, spec_id: str) -> tuple[AuthSpec, ...]:
        builtin = type_for_spec(spec_id)
        if builtin is not None:
            return builtin.auth_specs
        if spec_id not in self._fetched:
            if self.client is None:
                return ()
            data = self.client.get_connection_spec(spec_id)
            self._fetched[spec_id] = tuple(
                AuthSpec(str(a.get("name", "")), a.get("spec") or {})
                for a in data.get("authSpec") or []
            )
        return self._fetched[spec_id]

    def auth_spec(self, spec_id: str, name: str | None) -> AuthSpec | None:
        specs = self.auth_specs(spec_id)
        if name is None:
            return specs[0] if specs else None
        return next((a for a in specs if a.name == name), None)

    def secret_params(self, spec_id: str, auth_spec_name: str) -> frozenset[str]:
        auth = self.auth_spec(spec_id, auth_spec_name)
        return auth.secret_params if auth else frozenset()


def resolve(
    manifest: Manifest, resolver: Resolver, catalog: SpecCatalog
) -> dict[str, ResolvedConnection]:
    """Every connection with its references read; one error naming every missing value."""
    missing: list[str] = []
    resolved: dict[str, ResolvedConnection] = {}
    for key, conn in manifest.connections.items():
        auth = catalog.auth_spec(conn.spec.id, conn.auth_spec_name)
        if auth is None:
            raise PlanError(
                f"{key}: connection spec {conn.spec.id} has no auth spec {conn.auth_spec_name!r}"
            )
        secret_names = conn.secret_params if conn.secret_params is not None else auth.secret_params
        problems: list[str] = []
        name = resolver.resolve(conn.name, problems)
        description = resolver.resolve(conn.description, problems) if conn.description else None
        params: dict[str, Any] = {}
        secrets: dict[str, SecretValue] = {}
        for param, value in conn.params.items():
            if isinstance(value, Template):
                text = resolver.resolve(value, problems)
                if param in secret_names:
                    secrets[param] = SecretValue(text)
                else:
                    params[param] = text
            else:
                params[param] = value
        missing += [f"connections.{key}: {p}" for p in problems]
        resolved[key] = ResolvedConnection(
            key=key,
            attributes=Attributes(conn.spec, name, description, auth.name, params),
            protect=conn.protect,
            secrets=secrets,
        )
    if missing:
        raise ReferenceResolutionError(
            "cannot read the manifest's references:\n  " + "\n  ".join(missing)
        )
    return resolved


def desired_records(
    resolved: Mapping[str, ResolvedConnection], state: State
) -> dict[str, DesiredRecord]:
    return {
        key: DesiredRecord(
            key=key,
            attributes=conn.attributes,
            protect=conn.protect,
            secret_fingerprints={
                name: state.fingerprint(name, value.reveal())
                for name, value in conn.secrets.items()
            },
        )
        for key, conn in resolved.items()
    }


def without_secrets(remote: RemoteConnection, catalog: SpecCatalog) -> RemoteConnection:
    """Drop the params the API masks: they must never be compared or shown."""
    attrs = remote.attributes
    secret = catalog.secret_params(attrs.spec.id, attrs.auth_spec_name)
    if not secret & set(attrs.params):
        return remote
    params = {k: v for k, v in attrs.params.items() if k not in secret}
    return replace(remote, attributes=replace(attrs, params=params))


def read_remote(
    client: FlowServiceClient, spec_ids: Iterable[str], catalog: SpecCatalog
) -> list[RemoteConnection]:
    specs = sorted(set(spec_ids))
    if not specs:
        return []
    found = client.list_connections([f"connectionSpec.id=={','.join(specs)}"])
    return [without_secrets(r, catalog) for r in found]


@dataclass(frozen=True)
class Planned:
    plan: Plan
    resolved: dict[str, ResolvedConnection]


def make_plan(
    manifest: Manifest,
    state: State,
    client: FlowServiceClient,
    resolver: Resolver,
    targets: Iterable[str] = (),
) -> Planned:
    catalog = SpecCatalog(client)
    resolved = resolve(manifest, resolver, catalog)
    desired = desired_records(resolved, state)
    spec_ids = {d.attributes.spec.id for d in desired.values()}
    spec_ids |= {e.attributes.spec.id for e in state.connections.values()}
    remote = read_remote(client, spec_ids, catalog)
    changes = planner.plan(desired, state, remote, targets)
    return Planned(
        plan=Plan(
            changes=changes,
            org=state.org,
            sandbox=state.sandbox,
            manifest_path=str(manifest.path),
            manifest_digest=manifest.digest,
            state_lineage=state.lineage,
            state_serial=state.serial,
            state_exists=state.exists,
            fingerprint_key=None if state.exists else state.fingerprint_key,
        ),
        resolved=resolved,
    )
