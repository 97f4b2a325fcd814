"""`flowplan apply`: make the sandbox match the manifest or a saved plan."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import (
    color_option,
    env_option,
    manifest_option,
    open_context,
    state_option,
    style_for,
    target_option,
    use_color,
)


@click.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@manifest_option
@state_option
@env_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--parallelism", default=8, show_default=True, type=click.IntRange(1, 64))
@target_option
@click.option(
    "--lock-timeout",
    default=0.0,
    type=click.FloatRange(0),
    help="Seconds to wait for another apply's lock (default: fail at once).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per event, for CI logs.",
)
@color_option
def apply(
    planfile: Path | None,
    manifest_path: Path,
    state_path: str | None,
    auto_approve: bool,
    parallelism: int,
    targets: tuple[str, ...],
    lock_timeout: float,
    fmt: str,
    no_color: bool,
) -> int:
    """Make the sandbox match the manifest (or apply a saved PLANFILE)."""
    from flowplan.output.events import EventPrinter

    saved = None
    if planfile is not None:
        from flowplan.engine.saved_plans import load_plan

        saved = load_plan(planfile)
        manifest_path = Path(saved.manifest_path)
    ctx = open_context(manifest_path, state_path)
    color = use_color(no_color)
    printer = EventPrinter(fmt == "json", style_for(color), color)
    return ctx.apply(saved, targets, parallelism, lock_timeout, auto_approve, printer)
