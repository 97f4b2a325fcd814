"""The command line: one module per command; this one builds the group and maps errors to
exit codes.

The one place that turns a FlowplanError into a message and exit 1. Usage errors also exit 1,
so that 2 always means "plan has changes" under --detailed-exitcode.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, NoReturn

import click

from flowplan import __version__
from flowplan.cli.common import normalise_argv, report_error
from flowplan.errors import FlowplanError
from flowplan.output import logs


class _Commands(MutableMapping[str, click.Command]):
    """Command name -> its module, imported when the command is used: `flowplan validate`
    loads no HTTP client and `flowplan plan` no exporter (start-up time, issue #18)."""

    def __init__(self, where: dict[str, tuple[str, str]]) -> None:
        self._where = where
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attr = self._where[name]
            command = getattr(importlib.import_module(f"flowplan.cli.{module}"), attr)
            self._loaded[name] = command
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._where or name in self._loaded

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._where.setdefault(name, ("", ""))

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


_COMMANDS = _Commands(
    {
        "validate": ("validate", "validate"),
        "plan": ("plan", "plan"),
        "apply": ("apply", "apply"),
        "destroy": ("destroy", "destroy"),
        "runs": ("runs", "runs"),
        "show": ("show", "show"),
        "schema": ("schema", "schema"),
        "import": ("import_cmd", "import_command"),
        "state": ("state", "state"),
        "force-unlock": ("force_unlock", "force_unlock"),
        "export": ("export", "export"),
        "emulator": ("emulator", "emulator"),
    }
)


@click.group(commands=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowplan")
@click.option(
    "--debug",
    is_flag=True,
    help="Log each HTTP call (method, path, status, time); also after the command, or "
    "FLOWPLAN_LOG=debug.",
)
def cli(debug: bool) -> None:
    """Plan and apply Adobe Experience Platform Flow Service connections and pipelines from a
    YAML manifest.

    Shell completion: eval "$(_FLOWPLAN_COMPLETE=bash_source flowplan)" (zsh_source,
    fish_source)."""
    del debug  # main() takes --debug out of the arguments wherever it stands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `flowplan` script; returns the exit code (called with arguments, as
    tests do), or ends the process (called without, as the installed script is)."""
    code = _main(argv)
    if argv is None:
        _leave(code)
    return code


def _leave(code: int) -> NoReturn:
    """End without Python's teardown: after a large plan or apply, clearing the modules and the
    final garbage collections take ~0.1 s, and there is nothing left to do by then (the state
    is saved and its lock released before a command returns; log files are closed here)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args, debug_flag = normalise_argv(list(sys.argv[1:] if argv is None else argv), cli)
    except click.UsageError as exc:
        exc.show()
        return 1
    debug = logs.debug_requested(debug_flag, os.environ)
    undo_logging = logs.configure(debug)
    try:
        return _run(args, debug)
    finally:
        undo_logging()


def _run(args: list[str], debug: bool) -> int:
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
        if debug:
            logging.getLogger("flowplan").debug("error", exc_info=True)
        report_error(exc)
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return result if isinstance(result, int) else 0
