"""Flow runs (`/runs`): one per scheduled interval of an enabled flow since its startTime.

Computed lazily, when runs are read or a flow changes, never by a busy thread: a flow keeps the
time up to which its runs are recorded, and reading brings that up to the emulator's clock.
Each flow keeps at most MAX_RUNS_PER_FLOW runs (the newest), so memory stays bounded. Metrics
follow the OpenAPI's FlowRunItemDTO; their values are made up, deterministically per run.
"""

from __future__ import annotations

import copy
import math
import random
import uuid
from collections import deque
from typing import Any

from flowplan.emulator.listing import Lister, ListQuery
from flowplan.emulator.problems import Caller, not_found
from flowplan.emulator.records import Record, Shared

MAX_RUNS_PER_FLOW = 100
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_NAMESPACE = uuid.UUID("7d0c1a52-5b0e-4c55-9a51-3f4cc0d5e1a1")


class Runs:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.lister = Lister("runs")
        self._runs: dict[tuple[str, str], dict[str, Record]] = {}
        self._per_flow: dict[str, deque[str]] = {}
        self._until: dict[str, float] = {}  # runs recorded for scheduled times up to this

    def _bucket(self, caller: Caller) -> dict[str, Record]:
        return self._runs.setdefault((caller.org, caller.sandbox), {})

    def sync(self, caller: Caller, flow: Record, disabled_since: float | None) -> None:
        """Record the runs `flow` has had since the last sync; the caller holds the lock and
        calls this before any change to the flow's schedule or state."""
        now = self.shared.clock.now()
        until = self._until.get(flow["id"], -math.inf)
        self._until[flow["id"]] = now
        schedule = flow.get("scheduleParams") or {}
        for when in _scheduled(schedule, until, now):
            if disabled_since is None or when < disabled_since:
                self._record(caller, flow, when)

    def _record(self, caller: Caller, flow: Record, when: int) -> None:
        run_id = str(uuid.uuid5(_NAMESPACE, f"{flow['id']}:{when}"))
        ids = self._per_flow.setdefault(flow["id"], deque())
        bucket = self._bucket(caller)
        bucket[run_id] = _run(run_id, flow, when, self.shared.etag())
        ids.append(run_id)
        while len(ids) > MAX_RUNS_PER_FLOW:
            bucket.pop(ids.popleft(), None)

    def forget(self, caller: Caller, flow_id: str) -> None:
        bucket = self._bucket(caller)
        for run_id in self._per_flow.pop(flow_id, ()):
            bucket.pop(run_id, None)
        self._until.pop(flow_id, None)

    def listing(self, caller: Caller, query: ListQuery) -> Record:
        now_ms = self.shared.clock.now_ms()
        scope = (caller.org, caller.sandbox)
        return self.lister.page(
            scope, self._bucket(caller), None, query, lambda r: _public(r, now_ms)
        )

    def get(self, caller: Caller, run_id: str) -> Record:
        run = self._bucket(caller).get(run_id)
        if run is None:
            raise not_found(run_id, "runs")
        return _public(run, self.shared.clock.now_ms())

    def count(self, flow_id: str) -> int:
        return len(self._per_flow.get(flow_id, ()))


def _scheduled(schedule: Record, after: float, now: float) -> list[int]:
    """The scheduled times in (after, now], at most the newest MAX_RUNS_PER_FLOW."""
    start, frequency = epoch(schedule.get("startTime")), schedule.get("frequency")
    if start is None or frequency is None:
        return []
    if frequency == "once":
        return [start] if after < start <= now else []
    period = (epoch(schedule.get("interval")) or 1) * UNIT_SECONDS[str(frequency)]
    if now < start:
        return []
    last = int((now - start) // period)
    first = 0 if after < start else int((after - start) // period) + 1
    first = max(first, last - MAX_RUNS_PER_FLOW + 1)
    return [start + k * period for k in range(first, last + 1)]


def epoch(value: Any, default: Any = None) -> Any:
    """An integer given as a number or a numeric string (as the tutorials send startTime)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def _run(run_id: str, flow: Record, when: int, etag: str) -> Record:
    rnd = random.Random(run_id)  # noqa: S311 - made-up metrics, not crypto
    started = when * 1000
    completed = started + rnd.randint(20_000, 180_000)
    read = rnd.randint(50, 5000)
    failed = rnd.choice((0, 0, 0, rnd.randint(1, max(1, read // 100))))
    return {
        "id": run_id,
        "createdAt": started,
        "updatedAt": completed,
        "createdBy": flow["createdBy"],
        "updatedBy": flow["createdBy"],
        "createdClient": flow["createdClient"],
        "updatedClient": flow["createdClient"],
        "sandboxId": flow["sandboxId"],
        "sandboxName": flow["sandboxName"],
        "imsOrgId": flow["imsOrgId"],
        "flowId": flow["id"],
        "flowSpec": dict(flow["flowSpec"]),
        "providerRefId": uuid.uuid5(_NAMESPACE, run_id).hex,
        "eTag": etag,
        "metrics": {
            "durationSummary": {"startedAtUTC": started, "completedAtUTC": completed},
            "sizeSummary": {"inputBytes": read * 312, "outputBytes": (read - failed) * 298},
            "recordSummary": {
                "inputRecordCount": read,
                "createdRecordCount": read - failed,
                "outputRecordCount": read - failed,
                "failedRecordCount": failed,
            },
            "statusSummary": {"status": "success"},
        },
    }


def _public(run: Record, now_ms: int) -> Record:
    """A run as read at `now_ms`: one still going has no completion time yet."""
    out: dict[str, Any] = copy.deepcopy(run)
    metrics = out["metrics"]
    if now_ms < metrics["durationSummary"]["completedAtUTC"]:
        del metrics["durationSummary"]["completedAtUTC"]
        metrics["statusSummary"]["status"] = "inProgress"
        out["updatedAt"] = out["createdAt"]
        for key in ("sizeSummary", "recordSummary"):
            metrics.pop(key)
    return out
