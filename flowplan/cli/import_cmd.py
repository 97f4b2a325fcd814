"""`flowplan import`: bring an existing connection under a manifest key (state only)."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import manifest_option, open_context, state_option


@click.command("import")
@click.argument("key")
@click.argument("connection_id")
@manifest_option
@state_option
def import_command(
    key: str, connection_id: str, manifest_path: Path, state_path: str | None
) -> int:
    """Bring existing connection CONNECTION_ID under manifest key KEY (state only)."""
    from flowplan.cli import state_cmd as state_commands

    ctx = open_context(manifest_path, state_path)
    entry = state_commands.import_connection(ctx, key, connection_id)
    click.echo(
        f"Imported {entry.id} ({entry.attributes.name!r}) as {key}. Run `flowplan plan`: "
        "its secrets will be sent on the next apply, since they cannot be read back."
    )
    return 0
