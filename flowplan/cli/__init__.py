"""The command line: parses arguments, calls the core, prints, and maps errors to exit codes.

The one place that turns a FlowplanError into a message and exit 1. Usage errors also exit 1,
so that 2 always means "plan has changes" under --detailed-exitcode.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowplan import __version__, redact
from flowplan.errors import Diagnostic, FlowplanError, ManifestError
from flowplan.flowservice.catalog import BUILTIN_TYPES

if TYPE_CHECKING:
    from flowplan.cli.context import Context

DEFAULT_MANIFEST = "flowplan.yaml"
BUILTIN_TYPE_NAMES = tuple(BUILTIN_TYPES)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowplan")
@click.option("--debug", is_flag=True, help="Log each HTTP call (method, path, status, time).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Plan and apply Adobe Experience Platform Flow Service connections from a YAML manifest."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(redact.ScrubFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logging.basicConfig(level=logging.DEBUG, handlers=[handler])
        logging.getLogger("urllib3").setLevel(logging.INFO)


manifest_option = click.option(
    "-f",
    "--file",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_MANIFEST,
    show_default=True,
    help="The manifest.",
)


@cli.command()
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


def _context(manifest_path: Path, state_path: Path | None) -> Context:
    """The manifest, settings and state store a command works on (state defaults beside the
    manifest: flowplan.yaml -> flowplan.state.json)."""
    from flowplan.cli import context as commands

    return commands.Context.open(
        manifest_path, state_path or manifest_path.with_suffix(".state.json")
    )


def _use_color(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def _style(color: bool) -> Any:
    def style(text: str, name: str) -> str:
        if not color or not name:
            return text
        return click.style(text, bold=True) if name == "bold" else click.style(text, fg=name)

    return style


state_option = click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The state file [default: the manifest's path with .state.json].",
)
target_option = click.option(
    "--target", "targets", multiple=True, metavar="KEY", help="Only this key (repeatable)."
)
color_option = click.option("--no-color", is_flag=True, help="No ANSI colour (also NO_COLOR).")


@cli.command()
@manifest_option
@state_option
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
@target_option
@color_option
def plan(
    manifest_path: Path,
    state_path: Path | None,
    out_path: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    no_color: bool,
) -> int:
    """Show what apply would change. Read-only: never writes to Flow Service."""
    from flowplan.engine.changes import save_plan
    from flowplan.output import render

    ctx = _context(manifest_path, state_path)
    planned = ctx.plan(targets)
    if out_path is not None:
        save_plan(planned.plan, out_path)
    if fmt == "json":
        click.echo(render.render_json(planned.plan), nl=False)
    elif fmt == "markdown":
        click.echo(render.render_markdown(planned.plan), nl=False)
    else:
        color = _use_color(no_color)
        click.echo(render.render_text(planned.plan, _style(color)), nl=False, color=color)
        if out_path is not None:
            click.echo(f"Saved the plan to {out_path}; apply it with: flowplan apply {out_path}")
    return 2 if detailed_exitcode and planned.plan.has_changes else 0


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@manifest_option
@state_option
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
    state_path: Path | None,
    auto_approve: bool,
    parallelism: int,
    targets: tuple[str, ...],
    lock_timeout: float,
    fmt: str,
    no_color: bool,
) -> int:
    """Make the sandbox match the manifest (or apply a saved PLANFILE)."""
    from flowplan.cli import context as commands

    saved = None
    if planfile is not None:
        from flowplan.engine.changes import load_plan

        saved = load_plan(planfile)
        manifest_path = Path(saved.manifest_path)
    ctx = _context(manifest_path, state_path)
    color = _use_color(no_color)
    printer = commands.EventPrinter(fmt == "json", _style(color), color)
    return ctx.apply(saved, targets, parallelism, lock_timeout, auto_approve, printer)


@cli.command()
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
    from flowplan.engine.changes import load_plan
    from flowplan.output import render

    saved = load_plan(planfile)
    if fmt == "json":
        click.echo(render.render_json(saved), nl=False)
    elif fmt == "markdown":
        click.echo(render.render_markdown(saved), nl=False)
    else:
        color = _use_color(no_color)
        click.echo(render.render_text(saved, _style(color)), nl=False, color=color)
    return 0


@cli.command("import")
@click.argument("key")
@click.argument("connection_id")
@manifest_option
@state_option
def import_command(
    key: str, connection_id: str, manifest_path: Path, state_path: Path | None
) -> int:
    """Bring existing connection CONNECTION_ID under manifest key KEY (state only)."""
    from flowplan.cli import state_cmd as state_commands

    ctx = _context(manifest_path, state_path)
    entry = state_commands.import_connection(ctx, key, connection_id)
    click.echo(
        f"Imported {entry.id} ({entry.attributes.name!r}) as {key}. Run `flowplan plan`: "
        "its secrets will be sent on the next apply, since they cannot be read back."
    )
    return 0


@cli.group()
def state() -> None:
    """Inspect or forget state entries (never changes Flow Service)."""


@state.command("list")
@manifest_option
@state_option
def state_list(manifest_path: Path, state_path: Path | None) -> int:
    """Every managed key with its connection id and name."""
    from flowplan.cli import state_cmd as state_commands

    ctx = _context(manifest_path, state_path)
    for key, conn_id, name in state_commands.list_entries(ctx):
        click.echo(f"{key}\t{conn_id}\t{name}")
    return 0


@state.command("show")
@click.argument("key")
@manifest_option
@state_option
def state_show(key: str, manifest_path: Path, state_path: Path | None) -> int:
    """One entry as JSON (secrets only as fingerprints)."""
    from flowplan.cli import state_cmd as state_commands

    ctx = _context(manifest_path, state_path)
    click.echo(state_commands.show_entry(ctx, key))
    return 0


@state.command("rm")
@click.argument("key")
@manifest_option
@state_option
def state_rm(key: str, manifest_path: Path, state_path: Path | None) -> int:
    """Forget KEY: flowplan stops managing its connection, which is NOT deleted."""
    from flowplan.cli import state_cmd as state_commands

    ctx = _context(manifest_path, state_path)
    entry = state_commands.remove_entry(ctx, key)
    click.echo(f"Removed {key} from the state; connection {entry.id} still exists.")
    return 0


@cli.command()
@click.option(
    "--type",
    "type_name",
    type=click.Choice(sorted(BUILTIN_TYPE_NAMES)),
    help="Only connections of this built-in type.",
)
@click.option("--sandbox", default=None, help="Sandbox [default: AEP_SANDBOX_NAME].")
def export(type_name: str | None, sandbox: str | None) -> int:
    """Print a manifest for the sandbox's existing connections (secrets as ${env:…})."""
    from flowplan.engine.export import export_manifest
    from flowplan.engine.prepare import SpecCatalog, without_secrets
    from flowplan.flowservice.client import FlowServiceClient
    from flowplan.flowservice.settings import Settings

    settings = Settings.from_env(os.environ, sandbox)
    client = FlowServiceClient(settings)
    catalog = SpecCatalog(client)
    remote = [without_secrets(r, catalog) for r in client.list_connections()]
    click.echo(export_manifest(remote, catalog, settings.sandbox, type_name), nl=False)
    return 0


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--latency-ms", default=0, type=click.IntRange(0), help="Delay every answer.")
@click.option(
    "--fail-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Share of Flow Service requests that fail (429, 5xx, dropped answers).",
)
@click.option("--seed", default=None, type=int, help="Seed for --fail-rate's choices.")
@click.option("--strict", is_flag=True, help="Accept only tokens issued by this emulator's IMS.")
def emulator(
    host: str, port: int, latency_ms: int, fail_rate: float, seed: int | None, strict: bool
) -> int:
    """Run the local Flow Service + IMS emulator until interrupted."""
    from flowplan.emulator import Emulator
    from flowplan.flowservice.settings import is_loopback

    if not is_loopback(host):
        click.echo(f"Warning: listening on {host}, beyond this machine.", err=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    emu = Emulator(
        host,
        port,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        seed=seed,
        strict=strict,
        log_requests=True,
        record_requests=False,
    )
    click.echo(f"Flow Service emulator: FLOWPLAN_ENDPOINT={emu.flow_url}")
    click.echo(f"IMS token endpoint:    FLOWPLAN_IMS_ENDPOINT={emu.ims_url}", nl=True)
    sys.stdout.flush()
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `flowplan` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result: Any = cli.main(args=args, prog_name="flowplan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 1
    except FlowplanError as exc:
        if "--debug" in args:
            logging.getLogger("flowplan").exception("error")
        report_error(exc)
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return result if isinstance(result, int) else 0
