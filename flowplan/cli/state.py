"""`flowplan state …`: inspect or forget state entries (never changes Flow Service)."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import manifest_option, open_context, state_option


@click.group()
def state() -> None:
    """Inspect or forget state entries (never changes Flow Service)."""


@state.command("list")
@manifest_option
@state_option
def state_list(manifest_path: Path, state_path: Path | None) -> int:
    """Every managed key with its connection id and name."""
    from flowplan.cli import state_cmd as state_commands

    ctx = open_context(manifest_path, state_path)
    for key, conn_id, name in state_commands.list_entries(ctx):
        click.echo(f"{key}\t{conn_id}\t{name}")
    return 0


@state.command("show")
@click.argument("key")
@manifest_option
@state_option
def state_show(key: str, manifest_path: Path, state_path: Path | None) -> int:
    """One entry as JSON (secrets only as fingerprints)."""
    from flowplan.cli import state_cmd as state_commands

    ctx = open_context(manifest_path, state_path)
    click.echo(state_commands.show_entry(ctx, key))
    return 0


@state.command("rm")
@click.argument("key")
@manifest_option
@state_option
def state_rm(key: str, manifest_path: Path, state_path: Path | None) -> int:
    """Forget KEY: flowplan stops managing its connection, which is NOT deleted."""
    from flowplan.cli import state_cmd as state_commands

    ctx = open_context(manifest_path, state_path)
    entry = state_commands.remove_entry(ctx, key)
    click.echo(f"Removed {key} from the state; connection {entry.id} still exists.")
    return 0
