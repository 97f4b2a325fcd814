"""What flowplan's log records look like on stderr.

Always: warnings of the `flowplan` loggers (such as the HTTP client's one line per retry, with
its reason), so that a slow apply explains itself without --debug. With --debug (or
FLOWPLAN_LOG=debug): flowplan's debug records too and other libraries' INFO, but never
filelock's internals. Every handler scrubs secrets (flowplan.redact).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import click

from flowplan import redact

QUIET_LOGGERS = ("filelock", "botocore", "s3transfer")  # locking internals; AWS request dumps


class _StderrHandler(logging.Handler):
    """Writes to the current sys.stderr (looked up per record, as click does)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:
            self.handleError(record)


class _Plain(logging.Formatter):
    """`Warning: POST /connections: HTTP 503; retrying in 0.5 s (attempt 2 of 5)`."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.capitalize()}: {record.getMessage()}"


def debug_requested(debug_flag: bool, environ: Mapping[str, str]) -> bool:
    return debug_flag or environ.get("FLOWPLAN_LOG", "").strip().lower() == "debug"


def configure(debug: bool) -> Callable[[], None]:
    """Attach the handler; returns what undoes it (the CLI runs in-process in tests)."""
    redact.install_log_filter()
    handler = _StderrHandler()
    handler.addFilter(redact.ScrubFilter())
    flowplan_log = logging.getLogger("flowplan")
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", "flowplan", *QUIET_LOGGERS)}
    if debug:
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.setLevel(logging.INFO)
        flowplan_log.setLevel(logging.DEBUG)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        target = root
    else:
        handler.setLevel(logging.WARNING)
        handler.setFormatter(_Plain())
        target = flowplan_log
    target.addHandler(handler)

    def undo() -> None:
        target.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)

    return undo
