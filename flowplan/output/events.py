"""Apply progress: a line per finished change (or one JSON object per event), then a summary."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from flowplan import redact
from flowplan.engine.changes import Plan
from flowplan.output import progress, render
from flowplan.output.lines import LineBatcher

if TYPE_CHECKING:
    from flowplan.engine.applier import Event


class EventPrinter:
    """Progress: a line per finished change (or one JSON object per event), then a summary."""

    def __init__(self, as_json: bool, style: Callable[[str, str], str], color: bool) -> None:
        self.as_json = as_json
        self.style = style
        self.color = color  # click strips ANSI off a TTY unless told otherwise
        self.state_only: set[str] = set()
        self.progress: progress.Progress | None = None
        self._batch: LineBatcher | None = None  # while applying: stdout lines, batched

    def prompt(self, plan: Plan) -> str:
        """The apply prompt names where the changes go."""
        where = f"org {plan.org}, sandbox {plan.sandbox}"
        if plan.environment:
            where += f", environment {plan.environment}"
        return f"Apply these changes to {where}? Only 'yes' is accepted"

    @contextlib.contextmanager
    def applying(self, plan: Plan) -> Iterator[None]:
        """While the changes run: remember which are state-only, and on a terminal report
        progress every few seconds."""
        changes = plan.actionable
        self.state_only = {str(c.address) for c in changes if render.is_state_only(c)}
        if not self.as_json and progress.on_a_terminal():
            self.progress = progress.Progress(len(changes), click.echo, progress.INTERVAL_S)
            self.progress.start([str(c.address) for c in changes])
        self._batch = LineBatcher(lambda text: click.echo(text, nl=False))
        try:
            yield
        finally:
            batch, self._batch = self._batch, None
            batch.close()
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    def flush(self) -> None:
        if self._batch is not None:
            self._batch.flush()

    def flush_before_exit(self) -> None:
        """The lines not written yet, without waiting long for a write in progress."""
        if self._batch is not None:
            self._batch.flush(timeout=0.5)

    def _out(self, line: str) -> None:
        if self._batch is not None:
            self._batch.add(line)
        else:
            click.echo(line)

    def _err(self, line: str) -> None:
        self.flush()  # what came before it, first
        click.echo(line, err=True, color=self.color)

    def _emit(self, event: dict[str, Any]) -> None:
        self._out(redact.scrub(json.dumps(event, sort_keys=True)))

    def plan(self, plan: Plan) -> None:
        if self.as_json:
            self._emit({"type": "plan", "summary": plan.summary()})
        else:
            click.echo(render.render_text(plan, self.style), nl=False, color=self.color)

    def event(self, event: Event) -> None:
        if self.progress is not None and "address" in event and event["type"] != "warning":
            self.progress.finished_one(str(event["address"]))
        if self.as_json:
            self._emit(event)
            return
        if event["type"] == "error":
            self._err(self.style(f"! {event['address']}: {redact.scrub(event['message'])}", "red"))
            return
        if event["type"] == "warning":
            message = f"Warning: {event['address']}: {redact.scrub(event['message'])}"
            self._err(self.style(message, "yellow"))
            return
        if event["type"] == "skipped":
            self._err(self.style(f"! skipped {event['address']}: {event['because']} failed", "red"))
            return
        sign = SIGNS.get(event["verb"], "~")
        where = f" (id {event['id']})" if event.get("id") else ""
        if event["address"] in self.state_only:
            where += " (protect: state only; nothing was sent)"
        self._out(f"{sign} {event['verb']} {event['address']}{where}")

    def done(self, counts: dict[str, int]) -> None:
        if self.as_json:
            self._emit({"type": "summary", **counts})
            return
        click.echo(f"Apply complete: {counts_line(counts)}.")

    def interrupted(self, signum: int, not_started: int) -> None:
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        text = (
            f"Apply stopped by {name}: {not_started} change(s) were not started. Everything "
            "that finished is recorded in the state; run apply again to finish."
        )
        if self.as_json:
            self._emit({"type": "interrupted", "signal": name, "not_started": not_started})
        else:
            click.echo(text, err=True)


SIGNS = {
    "created": "+",
    "updated": "~",
    "replaced": "-/+",
    "deleted": "-",
    "adopted": "<=",
    "moved": "->",
}


def counts_line(counts: dict[str, int]) -> str:
    """`1 created, 0 updated, 0 deleted, 0 adopted`: a replace or move only when there is one."""
    words = ["created", "updated", "replaced", "deleted", "adopted", "moved"]
    shown = [w for w in words if w in counts and (counts[w] or w not in ("replaced", "moved"))]
    return ", ".join(f"{counts[w]} {w}" for w in shown)
