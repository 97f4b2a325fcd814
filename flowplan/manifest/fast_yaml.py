"""A fast first read of a manifest, with yaml-rs (a YAML 1.2 parser that builds the data in
Rust), for the common document that the strict loader would read the same way.

The strict loader (`yaml_loader`) spends ~80 µs of Python per connection on libyaml's events
and on positions that are only needed to report a problem (0.8 s of a 10,000-connection
validate). So a document is read here first, without positions; the strict loader reads it
again only when a position is asked for, i.e. when there is something to report.

Only text that both readers read alike takes this path; the rest goes to the strict loader
from the start. The two differ on tags, anchors, aliases and merge keys (the strict loader
refuses or limits them), on tabs, control characters and the YAML 1.1 line breaks NEL, LS and
PS, on directives and further documents, on number spellings that yaml-rs reads the YAML 1.1
way (`1_000`, `0b1`, `+0x1`), on flow collections over several lines, on keys that are empty
or collections, on values that start with an indicator inside a flow collection, and on block
scalars; and yaml-rs recurses once per nesting level, without a limit for block nesting, and
parses a long number in quadratic time (lines over 4,096 characters go to the strict loader). A
document yaml-rs refuses, or whose data breaks one of the strict loader's limits, goes there
too, so that the error is the strict loader's, with its line and column.
tests/test_fast_yaml.py reads random documents both ways and compares.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

try:
    import yaml_rs

    ENABLED = True
except ImportError:  # pragma: no cover - a platform without its wheel: strict loading only
    ENABLED = False

# Substring tests and patterns that start with a literal character: Python's engine scans for
# those at memory speed, while a pattern that starts with a look-behind or a character class
# tries every position (~0.1 s each on a 2.4 MB manifest).
_STRICT_ONLY = ("!", "&", "*", "<<", "\\", "\n%", "\n---", "\n...")
_STRICT_FORMS = tuple(
    map(
        re.compile,
        (
            r"\n[ ?:-]{100}",  # deep indentation
            r"\?(?:[ \r\n,\]}]|\Z)",  # a `?` key indicator
            r"\n[ -]*:",  # an empty key, or a value starting with `:`
            r"\{ *:",
            r"\[ *:",
            r", *:",
            r":[?,\[\]{}]",  # an empty value in a flow collection, `:?`
            r"\] *:",  # a collection as a key
            r"\} *:",
            r"\[ *[?:|>%@`]",  # a value starting with an indicator in a flow collection
            r"\{ *[?:|>%@`]",
            r", *[?:|>%@`]",
            r": +[?:|>%@`]",
            r"\|[-+1-9]* *(?:#|\r?\n|\Z)",  # a block scalar's header
            r">[-+1-9]* *(?:#|\r?\n|\Z)",
        ),
    )
)
# A flow collection's opening bracket (`${` is a reference, not one): its line must close
# what it opens (flow keys over several lines read differently).
_FLOW_OPENERS = (re.compile(r"\["), re.compile(r"\{(?<!\$\{)"))
# Longer lines go to the strict loader: it bounds every search above by the line, keeps a
# number short (yaml-rs parses a long one in quadratic time; a value's size limit is the
# strict loader's to report), and real manifests have no such lines.
LONGEST_LINE = 4096
_NUMBER_HINTS = tuple(map(re.compile, (r"_[0-9.]", r"_(?<=[0-9.]_)", r"0[xXoObB]")))
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
# Words that yaml-rs reads as numbers and the strict loader (YAML 1.2 core) as strings.
_QUIRKY_NUMBER = re.compile(r"[-+]?_.*|[-+]?[0-9.][0-9a-zA-Z._+-]*_.*|[-+]?0[bBXO].*|[-+]0[xXoO].*")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))

_NOT_READ = object()
_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))
_CONTAINER_TYPES = frozenset((dict, list))


def read(text: str, max_depth: int, max_values: int, max_chars: int) -> Any:
    """The document's data, or `_NOT_READ` when the strict loader must read it: for the text
    (see above), or for data beyond the strict loader's limits (nesting depth, number of
    values, characters in one value) that it reports with their position."""
    if not ENABLED or needs_strict(text):
        return _NOT_READ
    try:
        data = yaml_rs.loads(
            text, parse_datetime=False, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error
        )
    except Exception:  # any refusal: the strict loader explains it
        return _NOT_READ
    limits = (max_depth, max_values, max_chars if len(text) > max_chars else None)
    return data if _within_limits(data, *limits) else _NOT_READ


def was_read(data: Any) -> bool:
    return data is not _NOT_READ


def needs_strict(text: str) -> bool:
    """Whether the text holds something only the strict loader reads right (see above).
    Every test here is linear in the text's length (tests/test_fast_yaml.py times them)."""
    if any(part in text for part in _STRICT_ONLY) or text.lstrip(" -")[:1] in ("%", ":"):
        return True
    if len(text) - len(text.lstrip(" ?:-")) >= 100:  # deep nesting on the first line
        return True
    if not _printable(text) or max(map(len, text.split("\n"))) > LONGEST_LINE:
        return True
    if any(form.search(text) for form in _STRICT_FORMS):
        return True
    return _flow_over_lines(text) or _quirky_number(text)


def _flow_over_lines(text: str) -> bool:
    """A line that opens a flow collection and does not close it."""
    for start, end in _each_once(text, _FLOW_OPENERS, _line_bounds):
        line = text[start:end]
        opened = line.count("[") + line.count("{")  # `${x}` opens and closes one
        if opened != line.count("]") + line.count("}"):
            return True
    return False


def _quirky_number(text: str) -> bool:
    """A word that yaml-rs reads as a number and the strict loader as text."""
    spans = _each_once(text, _NUMBER_HINTS, _word_bounds)
    return any(_QUIRKY_NUMBER.fullmatch(text, start, end) for start, end in spans)


def _each_once(
    text: str, patterns: Iterable[re.Pattern[str]], bounds: Callable[[str, int], tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    """The span (`bounds`: a line, a word) around each hit of each pattern, each span once
    however many hits it holds: what keeps the searches linear on hostile text."""
    for pattern in patterns:
        checked_to = -1
        for hit in pattern.finditer(text):
            if hit.start() >= checked_to:
                start, checked_to = bounds(text, hit.start())
                yield start, checked_to


def _line_bounds(text: str, at: int) -> tuple[int, int]:
    end = text.find("\n", at)
    return text.rfind("\n", 0, at) + 1, len(text) if end < 0 else end


def _printable(text: str) -> bool:
    """No control character, tab, lone CR, nor the YAML 1.1 line breaks NEL, LS and PS."""
    if text.isascii():  # the common case, at memory speed
        left = text.encode("ascii").translate(None, _PRINTABLE_ASCII)
        if b"\r" not in left:
            return not left.strip(b"\n")
    return text.replace("\r\n", "").replace("\n", "").isprintable()


def _word_bounds(text: str, at: int) -> tuple[int, int]:
    """Where the run of letters, digits and `._+-` around `at` starts and ends."""
    start = end = at
    while start > 0 and text[start - 1] in _TOKEN_CHARS:
        start -= 1
    while end < len(text) and text[end] in _TOKEN_CHARS:
        end += 1
    return start, end


def _within_limits(data: Any, max_depth: int, max_values: int, max_chars: int | None) -> bool:
    """Keys are scalars, and the strict loader's limits hold. `max_chars` None: no value can be
    that long (a value is never longer than the text that holds it). One nesting level at a
    time, over flat lists: per value, this costs a few C-level steps and no Python loop."""
    level: list[Any] = [[data]]  # a wrapper, so that the document may be a scalar
    count = 0
    for _ in range(max_depth + 1):
        keys = list(chain.from_iterable([node for node in level if type(node) is dict]))
        if not _SCALAR_TYPES.issuperset(map(type, keys)):
            return False  # a collection as a key
        children = list(
            chain.from_iterable([node.values() if type(node) is dict else node for node in level])
        )
        count += len(keys) + len(children)
        if max_chars is not None:
            texts = filter(str.__instancecheck__, chain(keys, children))
            if max(map(len, texts), default=0) > max_chars:
                return False
        level = [child for child in children if type(child) in _CONTAINER_TYPES]
        if not level:
            return count <= max_values
    return False  # nested deeper than max_depth
