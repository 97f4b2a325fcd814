"""What every command shares: the options, colour, the command context, error reporting."""

from __future__ import annotations

import difflib
import os
import re
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

    file = escape(_in_workspace(d.file)).replace(",", "%2C").replace(":", "%3A")
    return f"::error file={file},line={d.line},col={d.col}::{escape(d.message)}"


def _in_workspace(file: str) -> str:
    """The path from the repository's root (GITHUB_WORKSPACE), which is what attaches an
    annotation to the pull request's diff; as given when outside it or unset."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return file
    path, root = Path(file).resolve(), Path(workspace).resolve()
    if not path.is_relative_to(root):
        return file
    return path.relative_to(root).as_posix()


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


# --- argv as hands type it ---------------------------------------------------------------------

TERRAFORM_ONLY = {
    "var": "values come from the manifest's vars: (per environment, --env NAME) or ${env:NAME}",
    "var-file": "values come from the manifest's vars: (per environment, with --env NAME)",
    "input": "flowplan never asks without a terminal; --auto-approve applies without asking",
    "lock": "flowplan always locks the state; --lock-timeout SECONDS waits for another apply",
    "refresh": "flowplan always reads the sandbox when it plans",
    "chdir": "name the manifest instead: -f DIR/flowplan.yaml",
    "json": "use --format json",
}
_SINGLE_DASH_LONG = re.compile(r"^-([a-z][a-z-]+)(=.*)?$", re.DOTALL)


def _option_names(command: click.Command) -> list[str]:
    names = ["--help", "-h"]
    for param in command.params:
        if isinstance(param, click.Option):
            names += [*param.opts, *param.secondary_opts]
    return names


def normalise_argv(args: list[str], group: click.Group) -> tuple[list[str], bool]:
    """(args, debug): `--debug` taken out wherever it stands (before `--`), and Terraform's
    single-dash spellings (`-out=FILE`, `-auto-approve`, `-target=X`) turned into the option
    they name, or refused with a message saying what to type."""
    out: list[str] = []
    debug = False
    command: click.Command = group
    for i, arg in enumerate(args):
        if arg == "--":
            out += args[i:]
            break
        if arg in ("--debug", "-debug"):
            debug = True
            continue
        if isinstance(command, click.Group) and arg in command.commands:
            command = command.commands[arg]
        match = _SINGLE_DASH_LONG.match(arg)
        out.append(_single_dash(arg, match[1], command) if match else arg)
    return out, debug


def _single_dash(arg: str, name: str, command: click.Command) -> str:
    known = _option_names(command)
    if f"--{name}" in known:
        return f"-{arg}"
    if name in TERRAFORM_ONLY:
        raise click.UsageError(f"-{name} is Terraform's, not flowplan's: {TERRAFORM_ONLY[name]}.")
    if f"-{name[0]}" in known:
        return arg  # a short option with its value attached: -fflowplan.yaml
    close = difflib.get_close_matches(f"--{name}", [k for k in known if k.startswith("--")], 1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise click.UsageError(f"No such option: -{name}{hint}")


def warn_if_targeted(targets: tuple[str, ...]) -> None:
    """As Terraform: a targeted plan may not show everything the manifest asks for."""
    if targets:
        click.echo(
            f"Warning: resource targeting is in effect (--target {' '.join(targets)}): the plan "
            "may be incomplete; changes to other resources are not shown or applied. Plan "
            "without --target once this is done.",
            err=True,
        )
