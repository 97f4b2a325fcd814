"""`flowplan import` and `flowplan state list|show|rm`: editing what the state manages.

Both only ever change the state file (under its lock); neither changes Flow Service.
"""

from __future__ import annotations

import json
from typing import Any

from flowplan.cli.context import Context
from flowplan.engine.prepare import SpecCatalog, without_secrets
from flowplan.errors import PlanError
from flowplan.state.model import StateEntry


def import_connection(ctx: Context, key: str, conn_id: str) -> StateEntry:
    """Record connection `conn_id` as managed by manifest key `key`."""
    if key not in ctx.manifest.connections:
        raise PlanError(f"{key!r} is not a connection key in {ctx.manifest.path}; add it first")
    client = ctx.client()
    with ctx.store.lock():
        state = ctx.load_state()
        if key in state.connections:
            raise PlanError(
                f"{key!r} already manages connection {state.connections[key].id}; "
                f"`flowplan state rm {key}` first to point it elsewhere"
            )
        owner = next((k for k, e in state.connections.items() if e.id == conn_id), None)
        if owner is not None:
            raise PlanError(f"connection {conn_id} is already managed by {owner!r}")
        remote = without_secrets(client.get_connection(conn_id), SpecCatalog(client))
        desired = ctx.manifest.connections[key]
        if remote.attributes.spec.id != desired.spec.id:
            raise PlanError(
                f"connection {conn_id} has connection spec {remote.attributes.spec.id}, but "
                f"{key!r} declares {desired.spec.id}"
            )
        # No fingerprints: the remote secrets cannot be read, so the next plan sends ours.
        entry = StateEntry(remote.id, remote.etag, remote.attributes, desired.protect, {})
        state.connections[key] = entry
        ctx.store.save(state)
    return entry


def list_entries(ctx: Context) -> list[tuple[str, str, str]]:
    state = ctx.load_state()
    return [(k, e.id, e.attributes.name) for k, e in sorted(state.connections.items())]


def show_entry(ctx: Context, key: str) -> str:
    state = ctx.load_state()
    entry = state.connections.get(key)
    if entry is None:
        raise PlanError(f"no state entry {key!r}; `flowplan state list` shows them")
    data: dict[str, Any] = entry.to_dict()
    return json.dumps(data, indent=2)


def remove_entry(ctx: Context, key: str) -> StateEntry:
    with ctx.store.lock():
        state = ctx.load_state()
        entry = state.connections.pop(key, None)
        if entry is None:
            raise PlanError(f"no state entry {key!r}; `flowplan state list` shows them")
        ctx.store.save(state)
    return entry
