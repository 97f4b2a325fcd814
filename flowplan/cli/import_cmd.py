"""`flowplan import`: bring an existing connection under a manifest key (state only)."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import env_option, manifest_option, open_context, state_option
from flowplan.cli.context import Context
from flowplan.errors import PlanError
from flowplan.model import Address
from flowplan.state.model import StateEntry


@click.command("import")
@click.argument("key")
@click.argument("connection_id")
@manifest_option
@state_option
@env_option
def import_command(
    key: str, connection_id: str, manifest_path: Path, state_path: str | None
) -> int:
    """Bring existing connection CONNECTION_ID under manifest key KEY (state only)."""
    ctx = open_context(manifest_path, state_path)
    address, entry = import_resource(ctx, key, connection_id)
    click.echo(
        f"Imported {entry.id} ({entry.attributes.get('name')!r}) as {address}. Run `flowplan "
        "plan`: its secrets will be sent on the next apply, since they cannot be read back."
    )
    return 0


def import_resource(ctx: Context, target: str, resource_id: str) -> tuple[Address, StateEntry]:
    """Record remote resource `resource_id` as managed by a manifest address (state only)."""
    from flowplan.engine.targets import resolve_target
    from flowplan.flowservice.specs import SpecCatalog
    from flowplan.kinds.connection import ConnectionKind

    keys = [Address("connection", k) for k in ctx.manifest.connections]
    try:
        address = resolve_target(target, keys)
    except PlanError:
        raise PlanError(
            f"{target!r} is not a resource in {ctx.manifest.path}; add it to the manifest first"
        ) from None
    client = ctx.client()
    kind = ConnectionKind(SpecCatalog(client))  # import takes connections
    with ctx.store.lock():
        state = ctx.load_state()
        current = state.get(address)
        if current is not None:
            raise PlanError(
                f"{address} already manages {kind.noun} {current.id}; "
                f"`flowplan state rm {address}` first to point it elsewhere"
            )
        owner = state.owner_of(address.kind, resource_id)
        if owner is not None:
            raise PlanError(f"{kind.noun} {resource_id} is already managed by {owner}")
        remote = kind.fetch(client, resource_id)
        declared = ctx.manifest.connections[address.key]
        spec_id = kind.spec_id(remote.attributes)
        if spec_id != declared.spec.id:
            raise PlanError(
                f"{kind.noun} {resource_id} has connection spec {spec_id}, but {address} "
                f"declares {declared.spec.id}"
            )
        # No fingerprints: the remote secrets cannot be read, so the next plan sends ours.
        entry = StateEntry(remote.id, remote.etag, remote.attributes, declared.protect, {})
        state.put(address, entry)
        ctx.store.save(state)
    return address, entry
