"""`flowplan plan`: show what apply would change (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

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


@click.command()
@manifest_option
@state_option
@env_option
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan (no secrets) for `flowplan apply PLANFILE`.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--destroy", is_flag=True, help="Plan the deletion of everything in the state.")
@max_deletes_option
@target_option
@color_option
def plan(
    manifest_path: Path,
    state_path: str | None,
    out_path: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    destroy: bool,
    max_deletes: int | None,
    targets: tuple[str, ...],
    no_color: bool,
) -> int:
    """Show what apply would change. Read-only: never writes to Flow Service."""
    from flowplan.cli.context import PlanOptions
    from flowplan.engine.saved_plans import save_plan
    from flowplan.output import render

    ctx = open_context(manifest_path, state_path)
    planned = ctx.plan(PlanOptions(targets, destroy, max_deletes))
    warn_if_targeted(targets)
    if out_path is not None:
        save_plan(planned.plan, out_path)
    if fmt == "json":
        click.echo(render.render_json(planned.plan), nl=False)
    elif fmt == "markdown":
        click.echo(render.render_markdown(planned.plan), nl=False)
    else:
        color = use_color(no_color)
        click.echo(render.render_text(planned.plan, style_for(color)), nl=False, color=color)
        if out_path is not None:
            click.echo(f"Saved the plan to {out_path}; apply it with: flowplan apply {out_path}")
    return 2 if detailed_exitcode and planned.plan.has_changes else 0
