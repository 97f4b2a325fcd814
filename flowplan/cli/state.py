"""`flowplan state …`: inspect, forget, copy or move the state (never changes Flow Service, and
needs no Flow Service credentials)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from flowplan.cli.common import manifest_option, state_option
from flowplan.state.store import StateStore

lock_timeout_option = click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for a held state lock.",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)


def _store(manifest_path: Path, state_location: str | None) -> StateStore:
    from flowplan.state.location import open_state

    return open_state(manifest_path, state_location)


@click.group()
def state() -> None:
    """Inspect, forget, copy or move the state (never changes Flow Service)."""


@state.command("list")
@manifest_option
@state_option
@format_option
def state_list(manifest_path: Path, state_path: str | None, fmt: str) -> int:
    """Every managed resource with its id and name."""
    from flowplan.cli import state_cmd

    rows = state_cmd.list_entries(_store(manifest_path, state_path))
    if fmt == "json":  # schemas/state-list.schema.json
        resources = [{**_address(r.address), "id": r.id, "name": r.name} for r in rows]
        click.echo(json.dumps({"format_version": "1", "resources": resources}, indent=2))
    for row in rows if fmt == "text" else ():
        click.echo(f"{row.address}\t{row.id}\t{row.name}")
    return 0


@state.command("show")
@click.argument("address")
@manifest_option
@state_option
@format_option
def state_show(address: str, manifest_path: Path, state_path: str | None, fmt: str) -> int:
    """One entry as JSON (secrets only as fingerprints)."""
    from flowplan.cli import state_cmd

    store = _store(manifest_path, state_path)
    text = state_cmd.show_entry(store, address)
    if fmt == "json":  # schemas/state-show.schema.json: the entry with its resolved address
        section, key = state_cmd._find(state_cmd._loaded(store), address)
        found = _address(f"{section.removesuffix('s')}.{key}")
        shown = {"format_version": "1", **found, "entry": json.loads(text)}
        click.echo(json.dumps(shown, indent=2))
        return 0
    click.echo(text)
    return 0


def _address(label: str) -> dict[str, str]:
    """A state list label (a bare key is a connection's) as its address, kind and key."""
    kind, _, key = label.rpartition(".")
    kind = kind or "connection"
    return {"address": f"{kind}.{key}", "kind": kind, "key": key}


@state.command("rm")
@click.argument("address")
@manifest_option
@state_option
@lock_timeout_option
def state_rm(address: str, manifest_path: Path, state_path: str | None, lock_timeout: float) -> int:
    """Forget ADDRESS: flowplan stops managing it; the resource is NOT deleted."""
    from flowplan.cli import state_cmd

    resource_id = state_cmd.remove_entry(_store(manifest_path, state_path), address, lock_timeout)
    kind = address.partition(".")[0] if "." in address else "connection"
    click.echo(f"Removed {address} from the state; {kind} {resource_id} still exists.")
    return 0


@state.command("mv")
@click.argument("old")
@click.argument("new")
@manifest_option
@state_option
@lock_timeout_option
def state_mv(
    old: str, new: str, manifest_path: Path, state_path: str | None, lock_timeout: float
) -> int:
    """Record OLD under the address NEW (a rename without re-creating; nothing is sent)."""
    from flowplan.cli import state_cmd

    moved = state_cmd.move_entry(_store(manifest_path, state_path), old, new, lock_timeout)
    click.echo(f"Moved {old} to {moved}. Rename the key in the manifest to match.")
    return 0


@state.command("pull")
@manifest_option
@state_option
def state_pull(manifest_path: Path, state_path: str | None) -> int:
    """Print the state as stored (JSON; secrets only as fingerprints)."""
    from flowplan.cli import state_cmd

    click.echo(state_cmd.pull(_store(manifest_path, state_path)), nl=False)
    return 0


@state.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace even another lineage or an older serial.")
@manifest_option
@state_option
@lock_timeout_option
def state_push(
    file: Path, force: bool, manifest_path: Path, state_path: str | None, lock_timeout: float
) -> int:
    """Replace the state by FILE's (refused when its lineage differs or its serial is not
    newer, unless --force)."""
    from flowplan.cli import state_cmd

    store = _store(manifest_path, state_path)
    pushed = state_cmd.push(store, file, force, lock_timeout)
    click.echo(f"Pushed {file} (serial {pushed.serial}) to {store.describe()}.")
    return 0


@state.command("migrate")
@click.option("--to", "to", required=True, metavar="LOCATION", help="Where the state moves.")
@click.option("--force", is_flag=True, help="Replace a state already at LOCATION.")
@manifest_option
@state_option
@lock_timeout_option
def state_migrate(
    to: str, force: bool, manifest_path: Path, state_path: str | None, lock_timeout: float
) -> int:
    """Copy the state (lineage and serial kept) to LOCATION; the old one stays as it was."""
    from flowplan.cli import state_cmd

    source = _store(manifest_path, state_path)
    target = _store(manifest_path, to)
    moved = state_cmd.migrate(source, target, force, lock_timeout)
    click.echo(
        f"Copied the state (lineage {moved.lineage}, serial {moved.serial}) from "
        f"{source.describe()} to {target.describe()}. Point --state, FLOWPLAN_STATE or the "
        "manifest's state: at it; the old copy was left as it was."
    )
    return 0
