"""Saved plans: writing and reading them, and the rules that refuse a stale one."""

from __future__ import annotations

import json
from pathlib import Path

from flowplan.engine.changes import Plan
from flowplan.errors import StalePlanError
from flowplan.model import Manifest
from flowplan.model.diff import diff_attributes, same
from flowplan.state.local import atomic_write
from flowplan.state.model import State


def save_plan(plan: Plan, path: Path) -> None:
    """Written 0600 with the state's atomic writer: a plan file is treated like a state file
    (it may carry the state's key), and a full disk leaves no half-written plan."""
    payload = json.dumps(plan.to_dict(include_key=True), indent=2) + "\n"
    atomic_write(path, payload.encode("utf-8"), 0o600)


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StalePlanError(f"no plan file {path}") from None
    except (OSError, ValueError):
        raise StalePlanError(f"{path} is not a readable flowplan plan (truncated?)") from None
    return Plan.from_dict(data, str(path))


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
    """What is applied must be what was reviewed: the secrets read now must be those the plan
    was made with, every non-secret value resolved now must equal the plan's (a changed
    `${env:…}` is not applied silently), and a plan made now must do the same thing to each
    resource (a connection created meanwhile turns a reviewed create into an adoption:
    applying the create would duplicate it)."""
    now = {c.address: c for c in fresh.changes}
    for change in saved.actionable:
        current = now.get(change.address)
        if change.secret_fingerprints and (
            current is None or current.secret_fingerprints != change.secret_fingerprints
        ):
            raise StalePlanError(
                f"{change.address}: a secret differs from the one the plan was made with; run "
                "plan again"
            )
        if current is None or current.action is not change.action:
            now_does = "nothing" if current is None else str(current.action)
            raise StalePlanError(
                f"{change.address}: the sandbox changed since the plan was made (planned: "
                f"{change.action}, now: {now_does}); run plan again"
            )
        if change.after is not None and not same(dict(change.after), dict(current.after or {})):
            fields = [f.field for f in diff_attributes(change.after, current.after or {})]
            raise StalePlanError(
                f"{change.address}: {', '.join(fields) or 'a value'} now resolves to something "
                "other than what the plan shows (a changed variable or file?); run plan again"
            )
