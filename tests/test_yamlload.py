"""The strict YAML loader: positions, duplicate keys, and every hostile-input class."""

from __future__ import annotations

import time

import pytest

from flowplan.errors import ManifestError
from flowplan.manifest import fast_yaml
from flowplan.manifest import yaml_loader as yamlload


@pytest.fixture(autouse=True, params=["fast reader first", "strict loader only"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "strict loader only":
        monkeypatch.setattr(fast_yaml, "ENABLED", False)


def error_of(text: str) -> tuple[int, int, str]:
    with pytest.raises(ManifestError) as info:
        yamlload.loads(text, "m.yaml")
    (d,) = info.value.diagnostics
    return d.line, d.col, d.message


def test_positions_of_values_and_keys() -> None:
    doc = yamlload.loads("a:\n  b: [1, x]\n  c: {d: e}\n", "m.yaml")
    assert doc.data == {"a": {"b": [1, "x"], "c": {"d": "e"}}}
    assert doc.value_position(("a", "b", 1)) == (2, 10)
    assert doc.key_position(("a", "c")) == (3, 3)
    assert doc.value_position(("a", "c", "d")) == (3, 10)


def test_duplicate_key_is_an_error_naming_both_lines() -> None:
    line, _, message = error_of("a: 1\nb: 2\na: 3\n")
    assert line == 3
    assert message == "duplicate key 'a' (first at line 1)"


def test_duplicate_key_after_merge_is_allowed_to_override() -> None:
    doc = yamlload.loads("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "m.yaml")
    assert doc.data["m"] == {"x": 1, "y": 3}


def test_yaml_12_scalars() -> None:
    doc = yamlload.loads("a: NO\nb: yes\nc: true\nd: 10\ne: ~\nf: '1'\ng: 012\n", "m.yaml")
    assert doc.data == {"a": "NO", "b": "yes", "c": True, "d": 10, "e": None, "f": "1", "g": 12}
    assert type(doc.data["g"]) is int  # YAML 1.2 core: leading zeros are still an integer


def test_syntax_error_has_its_line() -> None:
    line, _, message = error_of("a: [1, 2\nb: 3\n")
    assert line == 2
    assert "expected" in message


def test_tab_indentation_is_explained() -> None:
    line, col, message = error_of("a:\n\tb: 1\n")
    assert (line, col) == (2, 1)
    assert "tab" in message


@pytest.mark.parametrize(
    "tag", ["!!python/object:os.system", "!!python/object/apply:os.system", "!custom", "!!binary"]
)
def test_yaml_tags_are_refused(tag: str) -> None:
    line, col, message = error_of(f"a: 1\nb: {tag} x\n")
    assert (line, col) == (2, 4)
    assert "tags" in message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    start = time.monotonic()
    line, _, message = error_of("\n".join(lines) + "\n")
    assert time.monotonic() - start < 2
    assert "alias" in message
    assert 5 <= line <= 10


def test_deep_nesting_is_refused_with_a_line() -> None:
    text = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 5000))
    line, _, message = error_of(text)
    assert line == yamlload.MAX_DEPTH + 1
    assert "nesting" in message


def test_deep_flow_nesting_is_refused() -> None:
    line, _, message = error_of("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert line == 1
    assert "nesting" in message


def test_huge_scalar_is_refused_at_its_line() -> None:
    line, col, message = error_of("a: 1\nb: " + "x" * 5_000_000 + "\n")
    assert (line, col) == (2, 4)
    assert "5,000,000 characters" in message


def test_binary_and_multiple_documents() -> None:
    assert "NUL" in error_of("a: 1\n\x00\x01")[2]
    assert error_of("a: 1\n---\nb: 2\n")[:1] == (2,)


def test_unknown_alias() -> None:
    assert "unknown alias" in error_of("a: *nope\n")[2]
