"""The command line: one module per command; this one builds the group and maps errors to
exit codes.

The one place that turns a FlowplanError into a message and exit 1. Usage errors also exit 1,
so that 2 always means "plan has changes" under --detailed-exitcode.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from flowplan import __version__, redact
from flowplan.cli import (
    apply,
    destroy,
    emulator,
    export,
    force_unlock,
    import_cmd,
    plan,
    show,
    state,
    validate,
)
from flowplan.cli.common import report_error
from flowplan.errors import FlowplanError


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


for _command in (
    validate.validate,
    plan.plan,
    apply.apply,
    destroy.destroy,
    show.show,
    import_cmd.import_command,
    state.state,
    force_unlock.force_unlock,
    export.export,
    emulator.emulator,
):
    cli.add_command(_command)


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
