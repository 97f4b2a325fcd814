"""`flowplan validate`: offline checks of manifests."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import manifest_option
from flowplan.errors import Diagnostic, ManifestError


@click.command()
@manifest_option
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def validate(manifest_path: Path, files: tuple[Path, ...]) -> int:
    """Check manifests offline: YAML, JSON Schema and connection types. Reads no secret.

    FILES (as pre-commit passes them) are checked instead of -f; every problem of every file
    is reported."""
    from flowplan.manifest import loader as manifest

    problems: list[Diagnostic] = []
    for path in files or (manifest_path,):
        try:
            loaded = manifest.load(path)
        except ManifestError as exc:
            problems += exc.diagnostics
            continue
        count = len(loaded.connections)
        click.echo(f"{path}: valid ({count} connection{'s' if count != 1 else ''}).")
    if problems:
        raise ManifestError(problems)
    return 0
