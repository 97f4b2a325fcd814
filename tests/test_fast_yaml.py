"""The fast reader (yaml-rs) must read every document it accepts exactly as the strict loader
does, and leave every other one to the strict loader."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flowplan.errors import ManifestError
from flowplan.manifest import fast_yaml
from flowplan.manifest import yaml_loader as yamlload

ROOT = Path(__file__).resolve().parent.parent
LIMITS = (yamlload.MAX_DEPTH, yamlload.MAX_NODES, yamlload.MAX_SCALAR_BYTES)


def strict(text: str) -> tuple[str, Any]:
    try:
        return "read", yamlload._strict(text, "m.yaml")[0]
    except ManifestError:
        return "refused", None


def fast(text: str) -> Any:
    return fast_yaml.read(text, *LIMITS)


# Pieces that the two parsers once read differently (found by this very test), mixed with
# ordinary YAML.
PIECES = [
    *("0", "1", "9", "12", "007", "+", "-", ".", "_", "e", "E", "x", "o", "b", "0x", "0o", "0b"),
    *("inf", "Inf", "nan", "null", "true", "~", "a", "é", "😀", "$", "${env:X}", "/", "%", "@"),
    *(" ", "  ", "\n", "\r\n", "\t", "\n  x", "\n- ", "- ", ": ", ":", "#", ",", "`", "\\"),
    *("[", "]", "{", "}", "|", ">", "|-", "?", "'", '"', "'a''b'", '"a\\"b"', '"\\/"', '"\\N"'),
    *("\x7f", "\x85", "\u2028", "\ufeff"),
]
STARTS = ["a: ", "- ", "[", "{a: ", "k: v\n", "", "a:\n  b: ", "{", "[a, ", "{a: b, "]
ENDS = ["", "\n", "]", "}", "\nb: 1\n"]


def random_documents(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(STARTS)
        + "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
        + rng.choice(ENDS)
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(4))
def test_what_the_fast_reader_reads_the_strict_loader_reads_alike(seed: int) -> None:
    taken = 0
    for text in random_documents(seed, 25_000):
        data = fast(text)
        if not fast_yaml.was_read(data):
            continue
        taken += 1
        # repr: tells 1 from 1.0 and True, and NaN equals itself
        assert repr(strict(text)) == repr(("read", data)), text
    assert taken > 2_000  # the comparison means something only if the fast path is taken


def test_manifests_of_the_project_take_the_fast_path_and_read_alike() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import manifests  # type: ignore[import-not-found]

    texts = {
        "bench connections": manifests.connections(50, "b"),
        "bench pipelines": manifests.pipelines(20, "b"),
    }
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        texts[path.name] = path.read_text()
    for name, text in texts.items():
        data = fast(text)
        assert fast_yaml.was_read(data), name
        assert repr(strict(text)) == repr(("read", data)), name


@pytest.mark.parametrize(
    "text",
    [
        "a: 1_000\n",
        "a: _9\n",
        "a: 0b11\n",
        "a: +0x1F\n",
        "a: -0o7\n",
        "{a\n  b: 1}\n",
        "{a: ?x}\n",
        "[|x]\n",
        "a: |\n",
        "a: 1\x85b: 2\n",
        "a: x\u2028y\n",
        "[012]: x\n",
        "{[a]}\n",
        "? [a]\n: b\n",
        "a: !!str 1\n",
        "a: &x 1\nb: *x\n",
        "a: {b: 1}\n<<: {c: 2}\n",
        "a:\n\tb: 1\n",
        "a: 1\n---\nb: 2\n",
        "%YAML 1.2\n---\na: 1\n",
        "- :\n",
        "a: 1\nb: 2\rc: 3\n",
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 20_000)),
        "- " * 20_000 + "a\n",  # on the first line: yaml-rs would overflow its stack
        "a: 0O7\n",
        "a: 0X1F\n",
        "a: " + "1" * 5_000 + "\n",  # longer than a line may be on the fast path
        "{a: [b,\n c]}\n",
        "x${y}: [a,\n b]\n",
        "a: | # a comment\n  text\n",
    ],
)
def test_what_they_read_differently_goes_to_the_strict_loader(text: str) -> None:
    assert not fast_yaml.was_read(fast(text))
    outcome, data = strict(text)
    if outcome == "read":
        assert yamlload.loads(text, "m.yaml").data == data


@pytest.mark.parametrize("depth", [62, 63, 64, 65])
def test_the_nesting_limit_is_the_strict_loaders(depth: int) -> None:
    flow = "a: " + "[" * depth + "]" * depth  # only the check on the data sees its depth
    assert fast_yaml.was_read(fast(flow)) == (strict(flow)[0] == "read")
    block = "- " * depth + "x\n"  # deep indentation goes to the strict loader before that
    if strict(block)[0] == "refused":
        assert not fast_yaml.was_read(fast(block))


def test_limits_on_size_and_count_send_the_document_to_the_strict_loader() -> None:
    assert fast_yaml.was_read(fast_yaml.read("a: xxxxxxxxx\n", 64, 100, 10))
    assert not fast_yaml.was_read(fast_yaml.read("a: xxxxxxxxxxx\n", 64, 100, 10))
    assert not fast_yaml.was_read(fast_yaml.read("[" + ",".join("1" * 200) + "]", 64, 100, 10))


def test_positions_of_a_fast_document_come_from_the_strict_loader_when_asked() -> None:
    text = "a:\n  b: [1, x]\n  c: {d: e}\n"
    doc = yamlload.loads(text, "m.yaml")
    assert doc.positions is None  # read fast, nothing located yet
    assert doc.value_position(("a", "b", 1)) == (2, 10)
    assert doc.key_position(("a", "c")) == (3, 3)
    assert doc.positions is not None


def test_without_yaml_rs_the_strict_loader_reads_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fast_yaml, "ENABLED", False)
    doc = yamlload.loads("a: [1, x]\n", "m.yaml")
    assert doc.data == {"a": [1, "x"]}
    assert doc.positions is not None


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n'a': 2\n",
        "1: a\n1.0: b\n",
        "true: a\n1: b\n",
        "null: a\n~: b\n",
        "1: a\n0x1: b\n",
        "{a: 1, a: 2}\n",
    ],
)
def test_keys_equal_in_python_are_duplicates_whichever_reads_them(text: str) -> None:
    with pytest.raises(ManifestError, match="duplicate key"):
        yamlload.loads(text, "m.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "x_1" * 80_000 + "\n",  # one long word with a hint at every third character
        "a: " + "[" * 200_000 + "\n",
        "a: " + "{" * 200_000 + "\n",
        "a: " + "| #" * 60_000 + "\n",
        "a: " + "0x" * 100_000 + "\n",
    ],
)
def test_the_pre_screen_is_linear_on_hostile_text(text: str) -> None:
    start = time.perf_counter()
    fast_yaml.needs_strict(text)
    assert time.perf_counter() - start < 1.0  # quadratic, these took 30 s and more


def test_a_number_too_long_for_python_is_a_located_error() -> None:
    with pytest.raises(ManifestError, match="digits is too long") as info:
        yamlload.loads("a: 1\nb: " + "9" * 5_000 + "\n", "m.yaml")
    assert info.value.diagnostics[0].line == 2
