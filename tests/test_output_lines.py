"""Apply progress lines are written in batches, in order, soon, and all of them at the end."""

from __future__ import annotations

import threading
import time
from typing import Any

import click
import pytest

from flowplan.engine.changes import Plan
from flowplan.output.events import EventPrinter
from flowplan.output.lines import LineBatcher


def test_lines_come_out_in_order_in_few_writes_and_all_by_close() -> None:
    writes: list[str] = []
    batch = LineBatcher(writes.append, batch_s=0.05)
    threads = [
        threading.Thread(target=lambda t=t: [batch.add(f"{t}-{i}") for i in range(100)])
        for t in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batch.close()
    lines = "".join(writes).splitlines()
    assert sorted(lines) == sorted(f"{t}-{i}" for t in range(4) for i in range(100))
    for t in range(4):
        assert [x for x in lines if x.startswith(f"{t}-")] == [f"{t}-{i}" for i in range(100)]
    assert len(writes) < 50


def test_a_line_is_out_within_the_batch_time_without_further_lines() -> None:
    writes: list[str] = []
    batch = LineBatcher(writes.append, batch_s=0.05)
    batch.add("one")
    deadline = time.monotonic() + 2
    while not writes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writes == ["one\n"]
    batch.add("two")
    batch.close()
    assert writes == ["one\n", "two\n"]


def test_a_flush_with_a_timeout_never_waits_for_its_own_thread() -> None:
    """A signal handler runs in the thread it interrupted, maybe in the middle of a write."""
    batch = LineBatcher(lambda text: None)
    batch.add("x")
    with batch._write_lock:
        start = time.monotonic()
        batch.flush(timeout=0.1)
        assert time.monotonic() - start < 1
    batch.close()


def test_errors_come_after_the_lines_before_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    printer = EventPrinter(False, lambda text, color: text, False)
    plan = Plan((), "o", "s", "m.yaml", "digest", "lineage", 0, False)
    order: list[str] = []
    real_echo = click.echo

    def echo(message: str = "", **kwargs: Any) -> None:
        order.append(message.strip())
        real_echo(message, **kwargs)

    monkeypatch.setattr(click, "echo", echo)
    with printer.applying(plan):
        created = {"type": "change", "address": "connection.a", "verb": "created"}
        printer.event({**created, "key": "a", "action": "create", "id": "1"})
        printer.event({"type": "error", "address": "connection.b", "message": "boom"})
    assert order == ["+ created connection.a (id 1)", "! connection.b: boom"]
    captured = capsys.readouterr()
    assert captured.out == "+ created connection.a (id 1)\n"
    assert captured.err == "! connection.b: boom\n"
