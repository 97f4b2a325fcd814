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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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


def run_graph(
    graph: Mapping[Step, set[Step]],
    work: Callable[[Step], bool],
    parallelism: int,
    stopping: threading.Event,
) -> Outcome:
    """Run every step after the steps it waits for; `work` returns False when the step failed.

    Once `stopping` is set no new step starts; the ones in flight are waited for."""
    outcome = Outcome()
    waiting = {step: set(deps) for step, deps in graph.items()}
    dependents: dict[Step, list[Step]] = {}
    for step, deps in graph.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(step)
    ready = sorted(s for s, deps in waiting.items() if not deps)  # a heap: smallest first
    for step in ready:
        del waiting[step]
    running: dict[Future[bool], Step] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        while ready or running:
            while ready and len(running) < parallelism and not stopping.is_set():
                step = heapq.heappop(ready)  # not sort + pop(0): quadratic at 10,000 (#18)
                running[pool.submit(work, step)] = step
            if stopping.is_set():
                outcome.not_started += sorted(ready)
                ready = []
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                if future.result():
                    outcome.done.append(step)
                    for released in _released(step, waiting, dependents):
                        heapq.heappush(ready, released)
                else:
                    outcome.failed.append(step)
                    _skip(step, step, waiting, dependents, outcome)
    outcome.not_started += sorted(waiting)
    return outcome


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
