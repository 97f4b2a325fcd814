"""Applying a plan: create, update, adopt, delete and replace, up to N at once, recording each
success in the state (through the batched StateWriter) as soon as it happens.

A create whose outcome is unknown is never blindly re-sent: the connection is looked up by
spec and name first and adopted if it is there. An update sends If-Match with the etag seen at
plan time, so a connection changed since then is never overwritten.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from flowplan.engine.changes import Action, Change
from flowplan.engine.planner import diff
from flowplan.errors import ConflictError, FlowplanError, NotFoundError, OutcomeUnknownError
from flowplan.flowservice.client import FlowServiceClient, is_plain_filter_value
from flowplan.model import Attributes, ResolvedConnection
from flowplan.state.model import StateEntry
from flowplan.state.writer import StateWriter

MAX_CREATE_ATTEMPTS = 3

Event = dict[str, Any]


@dataclass
class ApplyResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0, "adopted": 0}
    )
    failures: list[tuple[str, str]] = field(default_factory=list)


class Applier:
    def __init__(
        self,
        client: FlowServiceClient,
        writer: StateWriter,
        resolved: Mapping[str, ResolvedConnection],
        on_event: Callable[[Event], None],
    ) -> None:
        self.client = client
        self.writer = writer
        self.resolved = resolved
        self.on_event = on_event
        self._lock = threading.Lock()
        self.result = ApplyResult()

    def run(self, changes: tuple[Change, ...], parallelism: int) -> ApplyResult:
        work = [c for c in changes if c.action is not Action.NOOP]
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            futures = {pool.submit(self._one, c): c for c in work}
            for future in as_completed(futures):
                future.result()
        return self.result

    def _one(self, change: Change) -> None:
        try:
            event = self._apply(change)
        except FlowplanError as exc:
            with self._lock:
                self.result.failures.append((change.key, str(exc)))
            self.on_event(
                {
                    "type": "error",
                    "key": change.key,
                    "action": str(change.action),
                    "message": str(exc),
                }
            )
            return
        with self._lock:
            self.result.counts[event["verb"]] += 1
        self.on_event({"type": "change", "key": change.key, **event})

    def _apply(self, change: Change) -> dict[str, Any]:
        if change.action is Action.CREATE:
            conn_id, adopted = self._create(change)
            return {"verb": "adopted" if adopted else "created", "id": conn_id, "action": "create"}
        if change.action in (Action.UPDATE, Action.ADOPT):
            self._update(change)
            verb = "adopted" if change.action is Action.ADOPT else "updated"
            return {"verb": verb, "id": change.id, "action": str(change.action)}
        if change.action is Action.DELETE:
            self._delete(change)
            return {"verb": "deleted", "id": change.id, "action": "delete"}
        self._delete(change)
        conn_id, _ = self._create(change)
        return {"verb": "created", "id": conn_id, "action": "replace", "replaced": change.id}

    # --- the actions --------------------------------------------------------------------------

    def _entry(self, change: Change, conn_id: str, etag: str) -> StateEntry:
        conn = self.resolved[change.key]
        return StateEntry(
            conn_id, etag, conn.attributes, conn.protect, dict(change.secret_fingerprints)
        )

    def _create(self, change: Change) -> tuple[str, bool]:
        conn = self.resolved[change.key]
        for _ in range(MAX_CREATE_ATTEMPTS):
            try:
                created = self.client.create_connection(create_body(conn))
            except OutcomeUnknownError:
                found = self._find_by_name(conn.attributes)
                if found is None:
                    continue  # nothing was created: safe to try again
                self.writer.record(change.key, self._entry(change, found[0], found[1]))
                return found[0], False
            self.writer.record(change.key, self._entry(change, created.id, created.etag))
            return created.id, False
        raise OutcomeUnknownError(
            f"{change.key}: the create did not get an answer after {MAX_CREATE_ATTEMPTS} tries "
            "and no connection with its name exists; run apply again"
        )

    def _find_by_name(self, attrs: Attributes) -> tuple[str, str] | None:
        """The connection an unanswered POST may have created: same spec, same name, unmanaged."""
        filters = [f"connectionSpec.id=={attrs.spec.id}"]
        if is_plain_filter_value(attrs.name):
            filters.append(f"name=={attrs.name}")
        managed = self.writer.managed_ids()
        found = [
            r
            for r in self.client.list_connections(filters)
            if r.attributes.name == attrs.name and r.id not in managed
        ]
        if len(found) > 1:
            raise OutcomeUnknownError(
                f"{len(found)} unmanaged connections are named {attrs.name!r}; choose one with "
                "`flowplan import`"
            )
        return (found[0].id, found[0].etag) if found else None

    def _update(self, change: Change) -> None:
        conn = self.resolved[change.key]
        assert change.id is not None  # noqa: S101 - the planner sets both for updates
        assert change.etag is not None  # noqa: S101
        ops = patch_ops(change, conn)
        if not ops:  # only `protect` changed: nothing to send
            self.writer.record(change.key, self._entry(change, change.id, change.etag))
            return
        try:
            etag = self.client.patch_connection(change.id, change.etag, ops)
        except ConflictError:
            etag = self._own_write_landed(change, conn)
        self.writer.record(change.key, self._entry(change, change.id, etag))

    def _own_write_landed(self, change: Change, conn: ResolvedConnection) -> str:
        """After a 412: was it our own PATCH, retried after a dropped answer? Then the remote
        now holds exactly our values, written by our client. Otherwise someone else changed it."""
        assert change.id is not None  # noqa: S101
        remote = self.client.get_connection(change.id)
        ours = remote.updated_client == self.client.settings.api_key
        same = not [
            f for f in diff(remote.attributes, conn.attributes) if not _masked_secret(f.field, conn)
        ]
        if ours and same:
            return remote.etag
        raise ConflictError(
            f"{change.key}: connection {change.id} was changed by {remote.updated_by or 'someone'} "
            "since the plan was made; it was not overwritten. Run plan again to review the change"
        )

    def _delete(self, change: Change) -> None:
        if change.id is None:
            self.writer.forget(change.key)
            return
        try:
            current = self.client.get_connection(change.id)
        except NotFoundError:
            self.writer.forget(change.key)
            return
        if current.etag != change.etag:
            raise ConflictError(
                f"{change.key}: connection {change.id} changed since the plan was made "
                f"(by {current.updated_by or 'someone'}); it was not deleted. Run plan again"
            )
        with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
            self.client.delete_connection(change.id)
        self.writer.forget(change.key)


def _masked_secret(field_name: str, conn: ResolvedConnection) -> bool:
    return field_name.startswith("params.") and field_name[len("params.") :] in conn.secrets


def create_body(conn: ResolvedConnection) -> dict[str, Any]:
    attrs = conn.attributes
    body: dict[str, Any] = {
        "name": attrs.name,
        "auth": {"specName": attrs.auth_spec_name, "params": auth_params(conn)},
        "connectionSpec": {"id": attrs.spec.id, "version": attrs.spec.version},
    }
    if attrs.description is not None:
        body["description"] = attrs.description
    return body


def auth_params(conn: ResolvedConnection) -> dict[str, Any]:
    return {**conn.attributes.params, **{k: v.reveal() for k, v in conn.secrets.items()}}


def patch_ops(change: Change, conn: ResolvedConnection) -> list[dict[str, Any]]:
    """JSON Patch at the documented paths; /auth/params replaced whole, only when needed."""
    ops: list[dict[str, Any]] = []
    changed = {f.field for f in change.fields}
    if "name" in changed:
        ops.append({"op": "replace", "path": "/name", "value": conn.attributes.name})
    if "description" in changed:
        before = change.before.description if change.before else None
        if conn.attributes.description is None:
            ops.append({"op": "remove", "path": "/description"})
        else:
            ops.append(
                {
                    "op": "replace" if before is not None else "add",
                    "path": "/description",
                    "value": conn.attributes.description,
                }
            )
    if change.sends_auth_params:
        ops.append({"op": "replace", "path": "/auth/params", "value": auth_params(conn)})
    return ops
