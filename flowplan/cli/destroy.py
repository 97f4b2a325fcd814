"""`flowplan destroy`: delete everything the state manages, in reverse dependency order.

It plans first and asks for `yes` on a terminal (or needs --auto-approve), like apply;
`protect: true` still refuses. The mass-delete guard does not apply: destroy is asked for by
name. Mapping sets cannot be deleted, so they are only forgotten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flowplan.cli.apply import run_apply, running_options


@click.command()
@running_options
def destroy(manifest_path: Path, **options: Any) -> int:
    """Delete every resource in the state (reverse dependency order; protect respected)."""
    return run_apply(manifest_path, None, destroy=True, **options)
