"""`flowplan validate`: offline checks of manifests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowplan.cli.common import manifest_option
from flowplan.errors import Diagnostic, ManifestError

if TYPE_CHECKING:
    from flowplan.model import Manifest

# kind -> (manifest section, singular, plural): the counts, in dependency order
KINDS = {
    "connection": ("connections", "connection", "connections"),
    "source": ("sources", "source", "sources"),
    "target": ("targets", "target", "targets"),
    "mapping": ("mappings", "mapping set", "mapping sets"),
    "dataflow": ("dataflows", "dataflow", "dataflows"),
}


@click.command()
@manifest_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object (schemas/validate.schema.json) on stdout.",
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def validate(manifest_path: Path, fmt: str, files: tuple[Path, ...]) -> int:
    """Check manifests offline: YAML, JSON Schema and connection types, in every environment.
    Reads no secret.

    FILES (as pre-commit passes them) are checked instead of -f; every problem of every file
    is reported."""
    from flowplan.manifest import loader as manifest

    problems: list[Diagnostic] = []
    reports: list[dict[str, Any]] = []
    for path in files or (manifest_path,):
        try:
            loaded = manifest.load_all(path)
        except ManifestError as exc:
            problems += exc.diagnostics
            reports.append(_report(path, None, exc.diagnostics))
            continue
        reports.append(_report(path, loaded, []))
        if fmt == "text":
            click.echo(f"{path}: valid ({_summary(loaded)}).")
    if fmt == "json":
        valid = not problems
        click.echo(json.dumps({"format_version": "1", "valid": valid, "files": reports}, indent=2))
        if problems:
            click.echo(
                f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.", err=True
            )
        return 0 if valid else 1
    if problems:
        raise ManifestError(problems)
    return 0


def resource_counts(loaded: Mapping[str | None, Manifest]) -> dict[str, int]:
    """Resources per kind (every environment has the same ones)."""
    first = next(iter(loaded.values()), None)
    counts = dict.fromkeys(KINDS, 0)
    if first is not None:
        counts["connection"] = len(first.connections)
        for kind, (section, _, _) in KINDS.items():
            if kind != "connection":
                counts[kind] = len(first.sections.get(section, {}))
    return counts


def _report(
    path: Path, loaded: Mapping[str | None, Manifest] | None, problems: list[Diagnostic]
) -> dict[str, Any]:
    return {
        "file": str(path),
        "valid": loaded is not None,
        "resources": resource_counts(loaded) if loaded is not None else None,
        "environments": [name for name in loaded or {} if name is not None],
        "problems": [
            {"file": d.file, "line": d.line, "col": d.col, "message": d.message} for d in problems
        ],
    }


def _summary(loaded: Mapping[str | None, Manifest]) -> str:
    counts = resource_counts(loaded)
    words = []
    for kind, (_, one, many) in KINDS.items():
        if counts[kind] or kind == "connection":
            words.append(f"{counts[kind]} {one if counts[kind] == 1 else many}")
    text = ", ".join(words)
    envs = [name for name in loaded if name is not None]
    if envs:
        text += f" in {len(envs)} environment{'s' if len(envs) != 1 else ''}: {', '.join(envs)}"
    return text
