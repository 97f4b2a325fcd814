"""`flowplan validate`: offline checks of manifests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowplan.cli.common import manifest_option
from flowplan.errors import Diagnostic, ManifestError

if TYPE_CHECKING:
    from flowplan.model import Manifest


@click.command()
@manifest_option
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def validate(manifest_path: Path, files: tuple[Path, ...]) -> int:
    """Check manifests offline: YAML, JSON Schema and connection types, in every environment.
    Reads no secret.

    FILES (as pre-commit passes them) are checked instead of -f; every problem of every file
    is reported."""
    from flowplan.manifest import loader as manifest

    problems: list[Diagnostic] = []
    for path in files or (manifest_path,):
        try:
            loaded = manifest.load_all(path)
        except ManifestError as exc:
            problems += exc.diagnostics
            continue
        click.echo(f"{path}: valid ({_summary(loaded)}).")
    if problems:
        raise ManifestError(problems)
    return 0


def _summary(loaded: Mapping[str | None, Manifest]) -> str:
    count = len(next(iter(loaded.values())).connections) if loaded else 0
    text = f"{count} connection{'s' if count != 1 else ''}"
    envs = [name for name in loaded if name is not None]
    if envs:
        text += f" in {len(envs)} environment{'s' if len(envs) != 1 else ''}: {', '.join(envs)}"
    return text
