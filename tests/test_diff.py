"""The attribute comparison: values as JSON sees them, differences as dotted paths."""

from __future__ import annotations

from typing import Any

import pytest

from flowplan.model.diff import diff_attributes, same


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, True),
        (0, False),
        (1, 1.0),
        ("1", 1),
        (None, ""),
        ({"a": [1, {"b": True}]}, {"a": [1, {"b": 1}]}),
        ({"a": 1}, {"a": 1, "b": None}),
        ([1, 2], [2, 1]),
    ],
)
def test_values_of_another_type_or_shape_differ(a: Any, b: Any) -> None:
    assert not same(a, b)
    assert not same(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": 1, "b": {"c": [1, "x"]}}, {"a": 1, "b": {"c": [1, "x"]}}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # key order does not matter
        ({"x": "s", "y": "s"}, {"x": "s", "y": "".join(["s"])}),  # shared objects or not
    ],
)
def test_equal_values_are_the_same(a: Any, b: Any) -> None:
    assert same(a, b)


def test_differences_are_dotted_paths() -> None:
    before = {"name": "a", "scheduleParams": {"interval": 1, "backfill": True}}
    after = {"name": "a", "scheduleParams": {"interval": 2, "backfill": 1}}
    assert [c.field for c in diff_attributes(before, after)] == [
        "scheduleParams.interval",
        "scheduleParams.backfill",
    ]


def test_equal_records_compare_without_a_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner compares thousands of records: what the manifest builds shares its strings
    (one spec id for 2,000 connections, interned keys), what is read back does not. Equal
    records must still be told equal by the byte comparison, not by the Python walk."""
    import sys

    from flowplan.model import diff

    spec_id = sys.intern("cc6a4487-9e91-433e-a3a3-9cf6626c1806")
    shared = [spec_id] * 3  # more than one reference to each
    desired = {"connectionSpec": {"id": shared[0], "version": "1.0"}, "name": "n", "params": {}}
    read_back = {
        "connectionSpec": {"id": spec_id.upper().lower(), "version": "1.0"},
        "name": "".join(["n"]),
        "params": {},
    }

    def walked(a: Any, b: Any) -> bool:
        raise AssertionError("compared by walking")

    monkeypatch.setattr(diff, "_same", walked)
    assert same(desired, read_back)
