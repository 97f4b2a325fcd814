"""What `plan` and `apply` do, between the CLI's arguments and the core: load the manifest and
state, build the client, make or check the plan, and run the applier under the state lock."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from flowplan import redact
from flowplan.engine.applier import Applier, Event
from flowplan.engine.changes import Plan
from flowplan.engine.prepare import Planned, make_plan
from flowplan.errors import ApplyError, StalePlanError
from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.settings import Settings
from flowplan.manifest import loader as manifest_module
from flowplan.model import Manifest
from flowplan.output import render
from flowplan.references.resolver import Resolver
from flowplan.state.file import StateStore
from flowplan.state.model import State
from flowplan.state.writer import StateWriter


@dataclass
class Context:
    manifest: Manifest
    settings: Settings
    store: StateStore

    @classmethod
    def open(cls, manifest_path: Path, state_path: Path) -> Context:
        loaded = manifest_module.load(manifest_path)
        settings = Settings.from_env(os.environ, loaded.sandbox)
        return cls(loaded, settings, StateStore(state_path))

    def client(self, parallelism: int = 8) -> FlowServiceClient:
        return FlowServiceClient(self.settings, parallelism)

    def load_state(self) -> State:
        return self.store.load(self.settings.org_id, self.settings.sandbox)

    def plan(
        self,
        targets: tuple[str, ...],
        state: State | None = None,
        client: FlowServiceClient | None = None,
    ) -> Planned:
        resolver = Resolver.from_os(self.manifest.path.resolve().parent)
        return make_plan(
            self.manifest, state or self.load_state(), client or self.client(), resolver, targets
        )

    def apply(
        self,
        saved: Plan | None,
        targets: tuple[str, ...],
        parallelism: int,
        lock_timeout: float,
        auto_approve: bool,
        printer: EventPrinter,
    ) -> int:
        client = self.client(parallelism)
        with self.store.lock(lock_timeout):
            state = self.load_state()
            if saved is not None:
                check_saved_plan(saved, self.manifest, state)
                if not state.exists and saved.fingerprint_key:
                    state.fingerprint_key = saved.fingerprint_key
                    state.lineage = saved.state_lineage
            planned = self.plan(targets, state, client)
            plan = planned.plan
            if saved is not None:
                check_against_fresh(saved, plan)
                plan = saved
            else:
                printer.plan(plan)
                if plan.has_changes and not _approved(auto_approve):
                    return 1
            if not plan.has_changes:
                printer.done({"created": 0, "updated": 0, "deleted": 0, "adopted": 0})
                if not state.exists:
                    self.store.save(state)
                return 0
            writer = StateWriter(self.store, state)
            try:
                result = Applier(client, writer, planned.resolved, printer.event).run(
                    plan.changes, parallelism
                )
            finally:
                writer.close()
        printer.done(result.counts)
        if result.failures:
            raise ApplyError(
                f"{len(result.failures)} change(s) failed; the others were applied and recorded "
                "in the state. Fix the cause and run apply again"
            )
        return 0


def check_saved_plan(saved: Plan, manifest: Manifest, state: State) -> None:
    """Terraform's rule: a plan applies only to the state (lineage, serial) it was made from."""
    if (saved.org, saved.sandbox) != (state.org, state.sandbox):
        raise StalePlanError(f"the plan is for org {saved.org}, sandbox {saved.sandbox}")
    if saved.manifest_digest != manifest.digest:
        raise StalePlanError("the manifest changed since the plan was made; run plan again")
    if saved.state_exists != state.exists or (
        state.exists and (saved.state_lineage, saved.state_serial) != (state.lineage, state.serial)
    ):
        raise StalePlanError(
            "the saved plan is stale: the state changed since the plan was made (another apply?); "
            "run plan again"
        )


def check_against_fresh(saved: Plan, fresh: Plan) -> None:
    """The secrets read now must be those the plan was made with, and a plan made now must
    do the same thing to each key (a connection created meanwhile turns a reviewed create into
    an adoption: applying the create would duplicate it)."""
    now = {c.key: c for c in fresh.changes}
    for change in saved.actionable:
        current = now.get(change.key)
        if change.secret_fingerprints and (
            current is None or current.secret_fingerprints != change.secret_fingerprints
        ):
            raise StalePlanError(
                f"{change.key}: a secret differs from the one the plan was made with; run plan "
                "again"
            )
        if current is None or current.action is not change.action:
            now_does = "nothing" if current is None else str(current.action)
            raise StalePlanError(
                f"{change.key}: the sandbox changed since the plan was made (planned: "
                f"{change.action}, now: {now_does}); run plan again"
            )


def _approved(auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not sys.stdin.isatty():
        raise ApplyError(
            "apply needs --auto-approve (or a saved plan) when it cannot ask on a terminal"
        )
    answer = click.prompt(
        "Apply these changes? Only 'yes' is accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        click.echo("Apply cancelled.", err=True)
        return False
    return True


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
