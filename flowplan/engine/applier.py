"""Applying a plan: every change's steps in dependency order, up to N at once, each success
recorded in the state (through the batched StateWriter) as soon as it happens.

Creates are safe to repeat: a create whose outcome is unknown is never blindly re-sent; the
resource is looked up by identity, patiently (a POST that timed out may commit a moment
later), adopted if it is there. Updates send If-Match with the etag seen at plan time, so a
resource changed since then is never overwritten; a delete first re-reads the resource and
refuses if its etag moved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowplan.engine.changes import Action, Change
from flowplan.engine.graph import Outcome, Step, build_graph, run_graph
from flowplan.errors import (
    ApplyError,
    ConflictError,
    FlowplanError,
    NotFoundError,
    OutcomeUnknownError,
)
from flowplan.flowservice.client import FlowServiceClient
from flowplan.kinds.base import Kind
from flowplan.model import Address, Desired, Remote
from flowplan.state.model import StateEntry
from flowplan.state.writer import StateWriter

MAX_CREATE_ATTEMPTS = 2
LOOKUP_DELAYS_S = (0.5, 1.5, 3.0)  # an unanswered POST may commit a moment later

Event = dict[str, Any]
VERBS = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.REPLACE: "replaced",
    Action.DELETE: "deleted",
    Action.ADOPT: "adopted",
    Action.MOVE: "moved",
}


def stale_records(
    changes: Sequence[Change], recorded: Callable[[Address], StateEntry | None]
) -> list[Change]:
    """Unchanged resources whose state entry holds an older etag: the remote already matches
    the manifest (an apply killed after its PATCH, or the same edit made by hand), so only the
    state is brought up to date, without a request; otherwise every later If-Match would fail."""
    stale = []
    for change in changes:
        if change.action is not Action.NOOP or change.id is None or change.etag is None:
            continue
        entry = recorded(change.address)
        if entry is not None and (entry.id, entry.etag) != (change.id, change.etag):
            stale.append(change)
    return stale


def new_counts() -> dict[str, int]:
    return dict.fromkeys(VERBS.values(), 0)


@dataclass
class ApplyResult:
    counts: dict[str, int] = field(default_factory=new_counts)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)


class Applier:
    def __init__(
        self,
        client: FlowServiceClient,
        writer: StateWriter,
        kinds: Mapping[str, Kind],
        desired: Mapping[Address, Desired],
        on_event: Callable[[Event], None],
        stopping: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.writer = writer
        self.kinds = kinds
        self.desired = desired
        self.on_event = on_event
        self.stopping = stopping or threading.Event()
        self.sleep = sleep
        self.result = ApplyResult()
        self._lock = threading.Lock()
        self._changes: dict[Address, Change] = {}

    def run(self, changes: Sequence[Change], parallelism: int) -> ApplyResult:
        self._changes = {c.address: c for c in changes}
        self._move(changes)
        for change in stale_records(changes, self.writer.entry):
            self._record(change, str(change.id), str(change.etag))
        graph = build_graph(changes, lambda kind: self.kinds[kind].create_before_destroy)
        outcome = run_graph(graph, self._step, parallelism, self.stopping)
        self._report(outcome)
        return self.result

    def _move(self, changes: Sequence[Change]) -> None:
        """Renames first: they touch the state only, and later steps record at the new address."""
        for change in changes:
            if change.moved_from is None:
                continue
            self.writer.move(change.moved_from, change.address)
            if change.action is Action.MOVE:
                with self._lock:
                    self.result.counts["moved"] += 1
                self.on_event(
                    {
                        "type": "change",
                        "address": str(change.address),
                        "key": change.key,
                        "action": "move",
                        "verb": "moved",
                        "id": change.id,
                        "moved_from": str(change.moved_from),
                    }
                )

    def _report(self, outcome: Outcome) -> None:
        for step, cause in outcome.skipped:
            self.result.skipped.append(str(step.address))
            self.on_event(
                {
                    "type": "skipped",
                    "address": str(step.address),
                    "key": step.address.key,
                    "because": str(cause.address),
                }
            )
        self.result.not_started = sorted({str(s.address) for s in outcome.not_started})

    # --- one step -----------------------------------------------------------------------------

    def _step(self, step: Step) -> bool:
        change = self._changes[step.address]
        try:
            resource_id = self._run_step(step, change)
        except FlowplanError as exc:
            with self._lock:
                self.result.failures.append((str(change.address), str(exc)))
            self.on_event(
                {
                    "type": "error",
                    "address": str(change.address),
                    "key": change.key,
                    "action": str(change.action),
                    "message": str(exc),
                }
            )
            return False
        last = step.phase == "apply" or change.action is Action.DELETE
        if change.action is Action.REPLACE and self.kinds[change.kind].create_before_destroy:
            last = step.phase == "destroy"
        if last:
            verb = VERBS[change.action]
            with self._lock:
                self.result.counts[verb] += 1
            event: Event = {
                "type": "change",
                "address": str(change.address),
                "key": change.key,
                "action": str(change.action),
                "verb": verb,
                "id": resource_id,
            }
            if change.action is Action.REPLACE:
                event["replaced"] = change.id
            self.on_event(event)
        return True

    def _run_step(self, step: Step, change: Change) -> str | None:
        kind = self.kinds[change.kind]
        if step.phase == "destroy":
            self._delete(kind, change)
            return change.id
        if change.action in (Action.CREATE, Action.REPLACE):
            return self._create(kind, change)
        self._update(kind, change)
        return change.id

    def id_of(self, address: Address) -> StateEntry:
        entry = self.writer.entry(address)
        if entry is None:
            raise ApplyError(f"{address} has no id yet (it was not created); run apply again")
        return entry

    def _record(self, change: Change, resource_id: str, etag: str) -> None:
        desired = self.desired[change.address]
        self.writer.record(
            change.address,
            StateEntry(
                resource_id,
                etag,
                self.kinds[change.kind].recorded(desired, self.id_of),
                desired.protect,
                dict(change.secret_fingerprints),
                desired.requires,
            ),
        )

    # --- the actions --------------------------------------------------------------------------

    def _create(self, kind: Kind, change: Change) -> str:
        desired = self.desired[change.address]
        for _ in range(MAX_CREATE_ATTEMPTS):
            try:
                resource_id, etag = kind.create(self.client, desired, self.id_of)
            except OutcomeUnknownError:
                if kind.identity(desired.attributes) is None:
                    self._orphan_warning(kind, change)
                found = self._find_patiently(kind, desired)
                if found is None:
                    continue  # nothing was created, even after waiting: safe to try again
                self._record(change, found.id, found.etag)
                return found.id
            self._record(change, resource_id, etag)
            return resource_id
        raise OutcomeUnknownError(
            f"{change.address}: the create got no answer {MAX_CREATE_ATTEMPTS} times and no "
            f"{kind.noun} with its identity has appeared; run apply again (it looks it up first)"
        )

    def _orphan_warning(self, kind: Kind, change: Change) -> None:
        """A resource without a name (a mapping set) cannot be looked up after an unanswered
        create: another is created, and the first, if it exists, is an unused orphan."""
        self.on_event(
            {
                "type": "warning",
                "address": str(change.address),
                "key": change.key,
                "message": f"the create got no answer and {kind.noun}s have no name to look "
                f"it up by: another is created; if the first exists, it is an unused orphan "
                "(harmless: nothing refers to it)",
            }
        )

    def _find_patiently(self, kind: Kind, desired: Desired) -> Remote | None:
        """The resource an unanswered POST may have created, looked for over a few seconds:
        a lookup right after a timeout can miss a create the server commits a moment later."""
        if kind.identity(desired.attributes) is None:
            return None  # cannot be found again (mapping sets have no name): an orphan at worst
        for delay in LOOKUP_DELAYS_S:
            self.sleep(delay)
            found = self.find_unmanaged(kind, desired)
            if found is not None:
                return found
        return None

    def find_unmanaged(self, kind: Kind, desired: Desired) -> Remote | None:
        identity = kind.identity(desired.attributes)
        filters = kind.name_filters(desired.attributes) or []
        managed = self.writer.managed_ids(kind.name)
        found = [
            r
            for r in kind.list_remote(self.client, filters)
            if kind.identity(r.attributes) == identity and r.id not in managed
        ]
        if len(found) > 1:
            raise OutcomeUnknownError(
                f"{desired.address}: {len(found)} unmanaged {kind.noun}s have its identity; "
                f"choose one with `flowplan import {desired.address} ID`"
            )
        return found[0] if found else None

    def _update(self, kind: Kind, change: Change) -> None:
        desired = self.desired[change.address]
        assert change.id is not None  # noqa: S101 - the planner sets both for updates
        assert change.etag is not None  # noqa: S101
        try:
            etag = kind.update(self.client, change, desired, self.id_of)
        except ConflictError:
            etag = self._own_write_landed(kind, change, desired)
        self._record(change, change.id, etag if etag is not None else change.etag)

    def _own_write_landed(self, kind: Kind, change: Change, desired: Desired) -> str:
        """After a 412: was it our own PATCH, retried after a dropped answer? Then the remote
        now holds exactly our values, written by our client. Otherwise someone else changed it."""
        assert change.id is not None  # noqa: S101
        remote = kind.fetch(self.client, change.id)
        ours = remote.updated_client == self.client.settings.api_key
        if ours and not kind.diff(remote.attributes, desired.attributes):
            return remote.etag
        raise ConflictError(
            f"{change.address}: {kind.noun} {change.id} was changed by "
            f"{remote.updated_by or 'someone'} since the plan was made; it was not overwritten. "
            "Run plan again to review the change"
        )

    def _delete(self, kind: Kind, change: Change) -> None:
        if change.id is None or not kind.deletable:
            self.writer.forget(change.address)
            return
        try:
            current = kind.fetch(self.client, change.id)
        except NotFoundError:
            self.writer.forget(change.address)
            return
        if current.etag != change.etag:
            raise ConflictError(
                f"{change.address}: {kind.noun} {change.id} changed since the plan was made "
                f"(by {current.updated_by or 'someone'}); it was not deleted. Run plan again"
            )
        kind.delete(self.client, change.id)
        self.writer.forget(change.address)
