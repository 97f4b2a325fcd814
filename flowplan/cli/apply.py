"""`flowplan apply`: make the sandbox match the manifest or a saved plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flowplan.engine.changes import Plan

from flowplan.cli.common import (
    color_option,
    env_option,
    manifest_option,
    max_deletes_option,
    open_context,
    state_option,
    style_for,
    target_option,
    use_color,
    warn_if_targeted,
)


def running_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of every command that changes the sandbox (apply, destroy)."""
    for option in reversed(
        (
            manifest_option,
            state_option,
            env_option,
            click.option("--auto-approve", is_flag=True, help="Apply without asking."),
            click.option("--parallelism", default=8, show_default=True, type=click.IntRange(1, 64)),
            target_option,
            max_deletes_option,
            click.option(
                "--lock-timeout",
                default=0.0,
                type=click.FloatRange(0),
                help="Seconds to wait for another apply's lock (default: fail at once).",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["text", "json"]),
                default="text",
                show_default=True,
                help="json: one JSON object per event, for CI logs.",
            ),
            color_option,
        )
    ):
        command = option(command)
    return command


@click.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@running_options
def apply(planfile: Path | None, manifest_path: Path, **options: Any) -> int:
    """Make the sandbox match the manifest (or apply a saved PLANFILE)."""
    saved = None
    if planfile is not None:
        from flowplan.engine.saved_plans import load_plan

        saved = load_plan(planfile)
        manifest_path = Path(saved.manifest_path)
    return run_apply(manifest_path, saved, destroy=False, **options)


def run_apply(
    manifest_path: Path,
    saved: Plan | None,
    *,
    destroy: bool,
    state_path: str | None,
    auto_approve: bool,
    parallelism: int,
    targets: tuple[str, ...],
    max_deletes: int | None,
    lock_timeout: float,
    fmt: str,
    no_color: bool,
) -> int:
    from flowplan.cli.context import PlanOptions
    from flowplan.output.events import EventPrinter

    ctx = open_context(manifest_path, state_path)
    warn_if_targeted(targets)
    color = use_color(no_color)
    printer = EventPrinter(fmt == "json", style_for(color), color)
    options = PlanOptions(targets, destroy, max_deletes)
    return ctx.apply(saved, options, parallelism, lock_timeout, auto_approve, printer)
