"""The apply's graph: steps in dependency order, replaces as delete-then-create (or
create-then-delete where the kind says so), a failure skipping what depends on it, and a stop
that lets nothing new start."""

from __future__ import annotations

import threading
import time

import pytest

from flowplan.engine.graph import Outcome, Step, build_graph, run_graph
from flowplan.model import Address
from flowplan.model.changes import Action, Change

CONN = Address("connection", "c")
SRC = Address("source", "s")
FLOW = Address("dataflow", "f")


def change(
    address: Address,
    action: Action,
    requires: tuple[Address, ...] | list[Address] = (),
    required_by: tuple[Address, ...] | list[Address] = (),
) -> Change:
    return Change(
        kind=address.kind,
        key=address.key,
        action=action,
        requires=tuple(requires),
        required_by=tuple(required_by),
    )


def order_of(
    graph: dict[Step, set[Step]], fail: frozenset[Step] = frozenset()
) -> tuple[list[Step], Outcome]:
    done: list[Step] = []
    lock = threading.Lock()

    def work(step: Step) -> bool:
        with lock:
            done.append(step)
        return step not in fail

    outcome = run_graph(graph, work, parallelism=1, stopping=threading.Event())
    return done, outcome


def test_a_chain_replace_destroys_top_down_then_creates_bottom_up() -> None:
    changes = [
        change(CONN, Action.REPLACE, required_by=[SRC]),
        change(SRC, Action.REPLACE, requires=[CONN], required_by=[FLOW]),
        change(FLOW, Action.REPLACE, requires=[SRC]),
    ]
    done, _ = order_of(build_graph(changes, lambda kind: False))
    assert done == [
        Step(FLOW, "destroy"),
        Step(SRC, "destroy"),
        Step(CONN, "destroy"),
        Step(CONN, "apply"),
        Step(SRC, "apply"),
        Step(FLOW, "apply"),
    ]


def test_create_before_destroy_when_the_kind_asks() -> None:
    changes = [change(CONN, Action.REPLACE)]
    done, _ = order_of(build_graph(changes, lambda kind: kind == "connection"))
    assert done == [Step(CONN, "apply"), Step(CONN, "destroy")]


def test_a_failure_skips_what_depends_on_it_and_nothing_else() -> None:
    other = Address("target", "t")
    changes = [
        change(CONN, Action.CREATE, required_by=[SRC]),
        change(SRC, Action.CREATE, requires=[CONN], required_by=[FLOW]),
        change(FLOW, Action.CREATE, requires=[SRC]),
        change(other, Action.CREATE),
    ]
    failing = frozenset({Step(CONN, "apply")})
    done, outcome = order_of(build_graph(changes, lambda kind: False), failing)
    assert Step(other, "apply") in done
    assert Step(SRC, "apply") not in done
    assert [(s.address, c.address) for s, c in outcome.skipped] == [
        (SRC, CONN),
        (FLOW, CONN),
    ]


def test_noops_and_moves_are_no_steps() -> None:
    graph = build_graph([change(CONN, Action.NOOP), change(SRC, Action.MOVE)], lambda k: False)
    assert graph == {}


def test_a_stop_starts_nothing_new() -> None:
    stopping = threading.Event()
    started: list[Step] = []

    def work(step: Step) -> bool:
        started.append(step)
        stopping.set()  # the first step's signal arrives while it runs
        return True

    changes = [change(Address("connection", k), Action.CREATE) for k in "abcd"]
    outcome = run_graph(build_graph(changes, lambda k: False), work, 1, stopping)
    assert len(started) == 1
    assert len(outcome.not_started) == 3


def test_up_to_parallelism_steps_run_at_once_and_dependents_wait() -> None:
    lock = threading.Lock()
    now, most, order = 0, 0, []
    both = threading.Barrier(3)

    def work(step: Step) -> bool:
        nonlocal now, most
        with lock:
            now += 1
            most = max(most, now)
        if step.address.key in "abc":
            both.wait(timeout=5)  # the three run together, or this times out
        with lock:
            now -= 1
            order.append(step.address.key)
        return True

    keys = "abcdef"
    changes = [change(Address("connection", k), Action.CREATE) for k in keys]
    last = Address("connection", "f")
    changes.append(change(Address("source", "z"), Action.CREATE, requires=[last]))
    outcome = run_graph(build_graph(changes, lambda k: False), work, 3, threading.Event())
    assert most == 3
    assert len(outcome.done) == 7
    assert order.index("z") > order.index("f")


def test_an_exception_starts_nothing_new_and_is_raised_once_the_others_end() -> None:
    started: list[str] = []
    lock = threading.Lock()
    first_running = threading.Event()

    def work(step: Step) -> bool:
        with lock:
            started.append(step.address.key)
        if step.address.key == "a":
            first_running.set()
            time.sleep(0.2)  # still in flight when "b" fails
            return True
        first_running.wait(5)
        raise RuntimeError("a bug")

    changes = [change(Address("connection", k), Action.CREATE) for k in "abcdef"]
    with pytest.raises(RuntimeError, match="a bug"):
        run_graph(build_graph(changes, lambda k: False), work, 2, threading.Event())
    assert sorted(started) == ["a", "b"]
