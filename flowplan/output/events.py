"""Apply progress: a line per finished change (or one JSON object per event), then a summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from flowplan import redact
from flowplan.engine.applier import Event
from flowplan.engine.changes import Plan
from flowplan.output import render


class EventPrinter:
    """Progress: a line per finished change (or one JSON object per event), then a summary."""

    def __init__(self, as_json: bool, style: Callable[[str, str], str], color: bool) -> None:
        self.as_json = as_json
        self.style = style
        self.color = color  # click strips ANSI off a TTY unless told otherwise

    def _emit(self, event: dict[str, Any]) -> None:
        click.echo(redact.scrub(json.dumps(event, sort_keys=True)))

    def plan(self, plan: Plan) -> None:
        if self.as_json:
            self._emit({"type": "plan", "summary": plan.summary()})
        else:
            click.echo(render.render_text(plan, self.style), nl=False, color=self.color)

    def event(self, event: Event) -> None:
        if self.as_json:
            self._emit(event)
            return
        if event["type"] == "error":
            message = self.style(f"! {event['key']}: {redact.scrub(event['message'])}", "red")
            click.echo(message, err=True, color=self.color)
            return
        sign = {"created": "+", "updated": "~", "deleted": "-", "adopted": "<="}[event["verb"]]
        where = f" (id {event['id']})" if event.get("id") else ""
        click.echo(f"{sign} {event['verb']} {event['key']}{where}")

    def done(self, counts: dict[str, int]) -> None:
        if self.as_json:
            self._emit({"type": "summary", **counts})
            return
        click.echo(
            f"Apply complete: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['deleted']} deleted, {counts['adopted']} adopted."
        )
