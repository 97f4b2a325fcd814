"""`flowplan schema`: print a bundled JSON Schema (the manifest's by default), for editors and
for checking flowplan's JSON output."""

from __future__ import annotations

import click

SCHEMAS = {
    "manifest": "manifest.schema.json",
    "plan": "plan.schema.json",
    "validate": "validate.schema.json",
    "state-list": "state-list.schema.json",
    "state-show": "state-show.schema.json",
    "runs": "runs.schema.json",
}


@click.command()
@click.argument("name", type=click.Choice(list(SCHEMAS)), default="manifest")
def schema(name: str) -> int:
    """Print the JSON Schema of the manifest (or of NAME: a JSON output's)."""
    from flowplan.manifest.schema_files import schema_text

    click.echo(schema_text(SCHEMAS[name]), nl=False)
    return 0
