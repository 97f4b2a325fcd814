"""`flowplan show`: render a saved plan, offline."""

from __future__ import annotations

from pathlib import Path

import click

from flowplan.cli.common import color_option, style_for, use_color


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@color_option
def show(planfile: Path, fmt: str, no_color: bool) -> int:
    """Render a saved plan (offline), e.g. as markdown for a pull-request comment."""
    from flowplan.engine.saved_plans import load_plan
    from flowplan.output import render

    saved = load_plan(planfile)
    if fmt == "json":
        click.echo(render.render_json(saved), nl=False)
    elif fmt == "markdown":
        click.echo(render.render_markdown(saved), nl=False)
    else:
        color = use_color(no_color)
        click.echo(render.render_text(saved, style_for(color)), nl=False, color=color)
    return 0
