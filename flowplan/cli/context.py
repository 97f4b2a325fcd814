"""What `plan` and `apply` do, between the CLI's arguments and the core: load the manifest and
state, build the client, make or check the plan, and run the applier under the state lock."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from flowplan.engine.changes import Plan
from flowplan.engine.guards import check_mass_delete
from flowplan.engine.prepare import Planned, make_plan
from flowplan.errors import ApplyError, StalePlanError
from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.settings import Settings
from flowplan.manifest import loader as manifest_module
from flowplan.model import Manifest
from flowplan.output.events import EventPrinter
from flowplan.references.resolver import Resolver
from flowplan.state.file import StateStore
from flowplan.state.location import open_state
from flowplan.state.model import State


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked of a plan: --target, --destroy, --max-deletes."""

    targets: tuple[str, ...] = ()
    destroy: bool = False
    max_deletes: int | None = None


@dataclass
class Context:
    manifest: Manifest
    settings: Settings
    store: StateStore

    @classmethod
    def open(cls, manifest_path: Path, state: str | None, env: str | None = None) -> Context:
        """The manifest for `env`, the settings, and the state at `state` (--state), else where
        the environment, the manifest or FLOWPLAN_STATE puts it (flowplan.state.location)."""
        loaded = manifest_module.load(manifest_path, env)
        settings = Settings.from_env(os.environ, loaded.sandbox)
        store = open_state(
            manifest_path,
            state,
            env_name=loaded.environment,
            env_state=loaded.env_state_location,
            manifest_state=loaded.state_location,
        )
        return cls(loaded, settings, store)

    def client(self, parallelism: int = 8) -> FlowServiceClient:
        return FlowServiceClient(self.settings, parallelism)

    def load_state(self) -> State:
        return self.store.load(self.settings.org_id, self.settings.sandbox)

    def plan(
        self,
        options: PlanOptions,
        state: State | None = None,
        client: FlowServiceClient | None = None,
        guard: bool = True,
    ) -> Planned:
        state = state or self.load_state()
        resolver = Resolver.from_os(self.manifest.path.resolve().parent)
        planned = make_plan(
            self.manifest,
            state,
            client or self.client(),
            resolver,
            options.targets,
            state_location=self.store.describe(),
            destroy=options.destroy,
        )
        if guard and not options.destroy:
            managed = sum(1 for _ in state.entries())
            check_mass_delete(planned.plan.changes, managed, options.max_deletes)
        return planned

    def apply(
        self,
        saved: Plan | None,
        options: PlanOptions,
        parallelism: int,
        lock_timeout: float,
        auto_approve: bool,
        printer: EventPrinter,
    ) -> int:
        # here, not at the top: `plan` shares this module and needs none of them (~30 ms)
        from flowplan.cli.signals import interruptible
        from flowplan.engine.applier import Applier, new_counts, stale_records
        from flowplan.engine.saved_plans import check_against_fresh, check_saved_plan
        from flowplan.state.writer import StateWriter

        client = self.client(parallelism)
        with self.store.lock(lock_timeout):
            state = self.load_state()
            if saved is not None:
                check_saved_plan(saved, self.manifest, state)
                where = self.store.describe()
                if saved.state_location and saved.state_location != where:
                    raise StalePlanError(
                        f"the plan was made against the state at {saved.state_location}, not "
                        f"{where}; apply it with that state, or make the plan again"
                    )
                if not state.exists and saved.fingerprint_key:
                    state.fingerprint_key = saved.fingerprint_key
                    state.lineage = saved.state_lineage
            if saved is not None:
                options = PlanOptions(options.targets, saved.destroy)
            # A saved plan passed the mass-delete guard when it was made and reviewed.
            planned = self.plan(options, state, client, guard=saved is None)
            plan = planned.plan
            if saved is not None:
                check_against_fresh(saved, plan)
                plan = saved
            else:
                printer.plan(plan)
                if plan.has_changes and not _approved(auto_approve, printer.prompt(plan)):
                    return 1
            if not plan.has_changes and not stale_records(plan.changes, state.get):
                printer.done(new_counts())
                if not state.exists:
                    self.store.save(state)
                return 0
            kinds = {k.name: k for k in planned.kinds}
            writer = StateWriter(self.store, state)
            output = printer.flush_before_exit
            with interruptible(writer, output) as stop, printer.applying(plan):
                try:
                    applier = Applier(
                        client, writer, kinds, planned.desired, printer.event, stop.event
                    )
                    result = applier.run(plan.changes, parallelism)
                finally:
                    writer.close()
        printer.done(result.counts)
        if stop.signal is not None:
            printer.interrupted(stop.signal, len(result.not_started))
            return 128 + stop.signal
        if result.failures or result.skipped:
            raise ApplyError(
                f"{len(result.failures)} change(s) failed and {len(result.skipped)} were skipped "
                "because they depend on one that failed; the others were applied and recorded "
                "in the state. Fix the cause and run apply again"
            )
        return 0


def _approved(auto_approve: bool, question: str) -> bool:
    if auto_approve:
        return True
    if not sys.stdin.isatty():
        raise ApplyError(
            "apply needs --auto-approve (or a saved plan) when it cannot ask on a terminal"
        )
    answer = click.prompt(question, default="", show_default=False)
    if answer.strip() != "yes":
        click.echo("Apply cancelled.", err=True)
        return False
    return True
