"""What every command shares: the options, colour, the command context, error reporting."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowplan import redact
from flowplan.errors import Diagnostic, FlowplanError, ManifestError

if TYPE_CHECKING:
    from flowplan.cli.context import Context

DEFAULT_MANIFEST = "flowplan.yaml"


def _github_annotation(d: Diagnostic) -> str:
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    file = escape(d.file).replace(",", "%2C").replace(":", "%3A")
    return f"::error file={file},line={d.line},col={d.col}::{escape(d.message)}"


def report_error(error: FlowplanError) -> None:
    """Print an expected error: every diagnostic, plus GitHub annotations under Actions."""
    if isinstance(error, ManifestError):
        for d in error.diagnostics:
            click.echo(str(d), err=True)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for d in error.diagnostics:
                click.echo(_github_annotation(d))
        count = len(error.diagnostics)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found.", err=True)
        return
    click.echo(f"Error: {redact.scrub(str(error))}", err=True)


manifest_option = click.option(
    "-f",
    "--file",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_MANIFEST,
    show_default=True,
    help="The manifest.",
)


def open_context(manifest_path: Path, state_location: str | None) -> Context:
    """The manifest (for the environment of --env or FLOWPLAN_ENV), settings and state store a
    command works on (state: see flowplan.state.location; by default beside the manifest,
    flowplan.yaml -> flowplan.state.json)."""
    from flowplan.cli.context import Context

    return Context.open(manifest_path, state_location, chosen_env())


def _remember_env(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta["flowplan.env"] = value


def chosen_env() -> str | None:
    """--env of the running command, else FLOWPLAN_ENV (click reads it for the option)."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get("flowplan.env") if ctx is not None else None
    return chosen or os.environ.get("FLOWPLAN_ENV") or None


env_option = click.option(
    "--env",
    metavar="NAME",
    envvar="FLOWPLAN_ENV",
    default=None,
    expose_value=False,
    callback=_remember_env,
    help="The manifest's environment (sandbox, vars, state) [default: FLOWPLAN_ENV].",
)


def use_color(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def style_for(color: bool) -> Any:
    def style(text: str, name: str) -> str:
        if not color or not name:
            return text
        return click.style(text, bold=True) if name == "bold" else click.style(text, fg=name)

    return style


state_option = click.option(
    "--state",
    "state_path",
    metavar="LOCATION",
    default=None,
    help="The state: a path, postgresql://… or s3://BUCKET/KEY [default: FLOWPLAN_STATE, "
    "else the manifest's path with .state.json].",
)
target_option = click.option(
    "--target", "targets", multiple=True, metavar="KEY", help="Only this key (repeatable)."
)
max_deletes_option = click.option(
    "--max-deletes",
    type=click.IntRange(0),
    default=None,
    metavar="N",
    help="Allow a plan to delete up to N resources (the guard stops more than 3 and more "
    "than 25 % of the state; a replace counts as a delete).",
)
color_option = click.option("--no-color", is_flag=True, help="No ANSI colour (also NO_COLOR).")
