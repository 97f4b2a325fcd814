"""`flowplan export`: print a manifest for the sandbox's existing connections and the
pipelines built on them (sources, targets, mapping sets, dataflows, referring by key)."""

from __future__ import annotations

import os

import click

from flowplan.flowservice.catalog import BUILTIN_TYPES


@click.command()
@click.option(
    "--type",
    "type_name",
    type=click.Choice(sorted(BUILTIN_TYPES)),
    help="Only connections of this built-in type.",
)
@click.option("--sandbox", default=None, help="Sandbox [default: AEP_SANDBOX_NAME].")
@click.option(
    "--connections-only", is_flag=True, help="Leave out sources, targets, mappings, dataflows."
)
def export(type_name: str | None, sandbox: str | None, connections_only: bool) -> int:
    """Print a manifest for the sandbox's connections and pipelines (secrets as ${env:…})."""
    from flowplan.engine.export import export_manifest
    from flowplan.engine.export_pipelines import Pipelines
    from flowplan.flowservice.client import FlowServiceClient
    from flowplan.flowservice.settings import Settings
    from flowplan.flowservice.specs import SpecCatalog
    from flowplan.kinds.connection import ConnectionKind

    settings = Settings.from_env(os.environ, sandbox)
    client = FlowServiceClient(settings)
    catalog = SpecCatalog(client)
    remote = ConnectionKind(catalog).list_remote(client, ())
    pipelines = None if connections_only else Pipelines.read(client)
    text = export_manifest(remote, catalog, settings.sandbox, type_name, pipelines)
    click.echo(text, nl=False)
    return 0
