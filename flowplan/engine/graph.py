"""The apply's graph: each change as one or two steps, run in dependency order, N at once.

A create, update or adoption is one `apply` step; a delete is one `destroy` step; a replace is
both. An apply step waits for the apply steps of what it references, and for its own destroy
step (delete-then-create; a kind may ask for create-then-delete instead). A destroy step waits
for the destroy steps of what references it, so deletes run in reverse order. A failed step
skips every step that waits on it, directly or not.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from flowplan.engine.changes import Action, Change
from flowplan.model import Address

Phase = Literal["destroy", "apply"]


@dataclass(frozen=True, order=True)
class Step:
    address: Address
    phase: Phase


@dataclass
class Outcome:
    done: list[Step] = field(default_factory=list)
    failed: list[Step] = field(default_factory=list)
    skipped: list[tuple[Step, Step]] = field(default_factory=list)  # (step, the failure behind)
    not_started: list[Step] = field(default_factory=list)  # stopped by a signal


def steps_of(change: Change) -> tuple[Phase, ...]:
    if change.action is Action.DELETE:
        return ("destroy",)
    if change.action is Action.REPLACE:
        return ("destroy", "apply")
    if change.action in (Action.NOOP, Action.MOVE):
        return ()  # a move changes the state only: recorded before any step runs
    return ("apply",)


def build_graph(
    changes: Iterable[Change], create_before_destroy: Callable[[str], bool]
) -> dict[Step, set[Step]]:
    """Each step and the steps it waits for."""
    by_address = {c.address: c for c in changes if steps_of(c)}
    graph: dict[Step, set[Step]] = {}
    for address, change in by_address.items():
        phases = steps_of(change)
        for phase in phases:
            graph[Step(address, phase)] = set()
        if "apply" in phases:
            waits = graph[Step(address, "apply")]
            for needed in change.requires:
                if needed in by_address and "apply" in steps_of(by_address[needed]):
                    waits.add(Step(needed, "apply"))
        if "destroy" in phases:
            waits = graph[Step(address, "destroy")]
            for user in change.required_by:
                if user in by_address and "destroy" in steps_of(by_address[user]):
                    waits.add(Step(user, "destroy"))
        if len(phases) == 2:
            if create_before_destroy(address.kind):
                graph[Step(address, "destroy")].add(Step(address, "apply"))
            else:
                graph[Step(address, "apply")].add(Step(address, "destroy"))
    return graph


IDLE_POLL_S = 0.2  # how often a worker with nothing ready looks at `stopping`


def run_graph(
    graph: Mapping[Step, set[Step]],
    work: Callable[[Step], bool],
    parallelism: int,
    stopping: threading.Event,
) -> Outcome:
    """Run every step after the steps it waits for; `work` returns False when the step failed.

    Once `stopping` is set no new step starts; the ones in flight are waited for. An exception
    from `work` also lets nothing new start, and is raised here once the others have finished."""
    run = _Run(graph, work, stopping)
    count = max(1, min(parallelism, len(graph)))
    workers = [
        threading.Thread(target=run.worker, name=f"flowplan-apply-{i}") for i in range(count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if run.error is not None:
        raise run.error
    run.outcome.not_started += sorted(run.ready) + sorted(run.waiting)
    return run.outcome


class _Run:
    """The steps' bookkeeping, shared by the workers under one lock. A worker that finishes a
    step takes the next ready one itself: no hand-over to a scheduling thread between two
    requests, which on a busy interpreter cost each step two waits for the GIL."""

    def __init__(
        self,
        graph: Mapping[Step, set[Step]],
        work: Callable[[Step], bool],
        stopping: threading.Event,
    ) -> None:
        self.work = work
        self.stopping = stopping
        self.outcome = Outcome()
        self.waiting = {step: set(deps) for step, deps in graph.items()}
        self.dependents: dict[Step, list[Step]] = {}
        for step, deps in graph.items():
            for dep in deps:
                self.dependents.setdefault(dep, []).append(step)
        self.ready = sorted(s for s, deps in self.waiting.items() if not deps)  # a heap
        for step in self.ready:
            del self.waiting[step]
        self.running = 0
        self.error: BaseException | None = None
        self._cond = threading.Condition()

    def worker(self) -> None:
        step = self._next(None, False)
        while step is not None:
            try:
                ok = self.work(step)
            except BaseException as exc:
                with self._cond:
                    self.error = self.error or exc
                    self.running -= 1
                    self._cond.notify_all()
                return
            step = self._next(step, ok)

    def _next(self, finished: Step | None, ok: bool) -> Step | None:
        """Record `finished` (if any), then the next step to run, or None when this worker is
        done: nothing left that could become ready, or a stop."""
        with self._cond:
            if finished is not None:
                self.running -= 1
                self._finish(finished, ok)
            while True:
                if self.stopping.is_set() or self.error is not None:
                    self._cond.notify_all()
                    return None
                if self.ready:
                    self.running += 1
                    # not sort + pop(0): quadratic at 10,000 (#18)
                    return heapq.heappop(self.ready)
                if not self.running:
                    self._cond.notify_all()  # nothing will become ready: the others end too
                    return None
                self._cond.wait(IDLE_POLL_S)

    def _finish(self, step: Step, ok: bool) -> None:
        if ok:
            self.outcome.done.append(step)
            released = _released(step, self.waiting, self.dependents)
            for new in released:
                heapq.heappush(self.ready, new)
            if released:
                self._cond.notify(len(released))
        else:
            self.outcome.failed.append(step)
            _skip(step, step, self.waiting, self.dependents, self.outcome)


def _released(
    step: Step, waiting: dict[Step, set[Step]], dependents: Mapping[Step, list[Step]]
) -> list[Step]:
    released = []
    for dependent in dependents.get(step, ()):
        deps = waiting.get(dependent)
        if deps is None:
            continue
        deps.discard(step)
        if not deps:
            del waiting[dependent]
            released.append(dependent)
    return released


def _skip(
    step: Step,
    cause: Step,
    waiting: dict[Step, set[Step]],
    dependents: Mapping[Step, list[Step]],
    outcome: Outcome,
) -> None:
    for dependent in dependents.get(step, ()):
        if dependent in waiting:
            del waiting[dependent]
            outcome.skipped.append((dependent, cause))
            _skip(dependent, cause, waiting, dependents, outcome)
