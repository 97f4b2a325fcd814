"""Safe, strict, position-keeping YAML loading.

Why this is written by hand on top of PyYAML's event stream instead of `yaml.compose`:
PyYAML's composer is recursive (5,000-deep nesting overflows Python's stack), builds a node
object per value (1.6 s for a 10,000-connection manifest against 0.3 s for the events), and
knows nothing of duplicate keys or alias bombs. Walking the events with an explicit stack gives,
in one pass: plain data, the position of every value and key, duplicate-key errors, a nesting
limit, an alias-expansion limit, a scalar-size limit and a refusal of YAML tags. Scanning and
parsing stay PyYAML's (libyaml when present).

Plain scalars are resolved with YAML 1.2 core rules (`true`/`false` only), so `country: NO`
stays the string "NO" as editors using YAML 1.2 show it.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from flowplan.errors import Diagnostic, ManifestError
from flowplan.manifest import fast_yaml

if TYPE_CHECKING:
    import yaml


MAX_DEPTH = 64
MAX_NODES = 2_000_000
MAX_SCALAR_BYTES = 256 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024

Path = tuple[str | int, ...]

_WORDS: dict[str, Any] = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL")),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_NUMBER_START = frozenset("-+.0123456789")
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT_HEX = re.compile(r"^(?:0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_FLOAT_SPECIAL = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf")}


class Position(NamedTuple):
    line: int  # 1-based
    col: int  # 1-based


@dataclass(slots=True)
class Positions:
    """Line and column of each value, and of each mapping key, by path."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)


@dataclass(slots=True)
class LoadedYaml:
    """The document's data and where each value (and each mapping key) stands in the file.

    A document that the fast reader read has no positions until one is asked for, to report
    a problem: the strict loader then reads `text` again for them."""

    file: str
    data: Any
    text: str
    positions: Positions | None = None

    def _located(self) -> Positions:
        if self.positions is None:
            self.positions = _strict(self.text, self.file)[1]
        return self.positions

    def value_position(self, path: Path) -> Position:
        """The value at `path`, or the nearest ancestor with a position (aliased content)."""
        values = self._located().values
        while path not in values and path:
            path = path[:-1]
        return Position(*values.get(path, (1, 1)))

    def key_position(self, path: Path) -> Position:
        found = self._located().keys.get(path)
        return Position(*found) if found else self.value_position(path)


def _position(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def resolve_plain(value: str) -> Any:
    """YAML 1.2 core schema resolution of an unquoted scalar."""
    if value in _WORDS:
        return _WORDS[value]
    if value[0] not in _NUMBER_START:
        return value
    if _INT.match(value):
        return int(value)
    if _INT_OCT_HEX.match(value):
        return int(value, 0)
    if _FLOAT.match(value):
        return float(value)
    special = _FLOAT_SPECIAL.get(value.lower())
    if special is not None:
        return special
    if value.lower() == ".nan":
        return float("nan")
    return value


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("anchor", "container", "is_map", "key", "merge", "path", "size")

    def __init__(self, container: dict[Any, Any] | list[Any], path: Path, anchor: str | None):
        self.container = container
        self.is_map = isinstance(container, dict)
        self.path = path
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.merge = False
        self.size = 1


_NO_KEY = object()
_IMPLICIT_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:str"}


def _fail(file: str, mark: Any, message: str) -> ManifestError:
    line, col = _position(mark)
    return ManifestError([Diagnostic(file, line, col, message)])


def _check_tag(file: str, event: Any) -> None:
    tag = event.tag
    if tag == "!":
        return
    implicit = event.implicit
    if isinstance(implicit, tuple):
        implicit = implicit[0] or implicit[1]
    if implicit is True and tag in _IMPLICIT_TAGS:
        return
    shown = tag.replace("tag:yaml.org,2002:", "!!")
    raise _fail(file, event.start_mark, f"YAML tags such as {shown!r} are not allowed")


def _merge(file: str, target: dict[Any, Any], value: Any, event: Any) -> None:
    """YAML merge key `<<: *base` (or a list of them); keys written out in the mapping win."""
    sources = value if isinstance(value, list) else [value]
    if not all(isinstance(s, dict) for s in sources):
        raise _fail(file, event.start_mark, "a merge key '<<' takes a mapping or a list of them")
    for source in sources:
        for k, v in source.items():
            target.setdefault(k, v)


def _events(text: str) -> Iterator[Any]:
    """The parser's events; leaner than `yaml.parse` (one call into libyaml per event, not
    two: ~30% of the event stream's cost)."""
    import yaml  # here: a manifest the fast reader reads needs no PyYAML (~20 ms to import)

    parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        get, end = parser.get_event, yaml.StreamEndEvent
        while True:
            event = get()
            yield event
            if type(event) is end:
                return
    finally:
        parser.dispose()


def _build(text: str, file: str) -> tuple[Any, Positions]:
    """One loop over the events; kept in one function because it runs once per value."""
    import yaml

    data: Any = None
    positions = Positions()
    values, keys = positions.values, positions.keys
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    total = 0
    done = False
    for event in _events(text):
        kind = type(event)
        if kind is yaml.ScalarEvent or kind is yaml.AliasEvent:
            if kind is yaml.AliasEvent:
                if event.anchor not in anchors:
                    raise _fail(file, event.start_mark, f"unknown alias *{event.anchor}")
                value, size = anchors[event.anchor]
            else:
                if event.tag is not None:
                    _check_tag(file, event)
                raw = event.value
                if len(raw) > MAX_SCALAR_BYTES:
                    raise _fail(
                        file,
                        event.start_mark,
                        f"a value of {len(raw):,} characters is longer than the "
                        f"{MAX_SCALAR_BYTES:,} allowed",
                    )
                # libyaml says '' for the plain style where pure-Python PyYAML says None
                try:
                    value = resolve_plain(raw) if event.implicit[0] and not event.style else raw
                except ValueError:  # Python reads at most 4,300 digits into an int
                    raise _fail(
                        file, event.start_mark, f"a number of {len(raw):,} digits is too long"
                    ) from None
                size = 1
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.tag is not None:
                _check_tag(file, event)
            if len(stack) >= MAX_DEPTH:
                raise _fail(
                    file, event.start_mark, f"nesting is deeper than {MAX_DEPTH} levels; flatten it"
                )
            if not stack:
                path: Path = ()
            else:
                top = stack[-1]
                path = (*top.path, top.key) if top.is_map else (*top.path, len(top.container))
            values[path] = _position(event.start_mark)
            container: dict[Any, Any] | list[Any] = {} if kind is yaml.MappingStartEvent else []
            stack.append(_Frame(container, path, event.anchor))
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = stack.pop()
            value, size = frame.container, frame.size
            if frame.anchor is not None:
                anchors[frame.anchor] = (value, size)
            total -= size - 1  # its children are counted already
        elif kind is yaml.DocumentStartEvent:
            if done:
                raise _fail(file, event.start_mark, "only one YAML document is allowed per file")
            continue
        else:
            continue

        total += size
        if total > MAX_NODES:
            raise _fail(
                file,
                event.start_mark,
                f"the document expands to more than {MAX_NODES:,} values through aliases "
                "(an alias bomb?); write the values out or use fewer aliases",
            )
        if not stack:
            data = value
            done = True
            continue
        top = stack[-1]
        top.size += size
        if not top.is_map:
            if kind is not yaml.MappingEndEvent and kind is not yaml.SequenceEndEvent:
                mark = event.start_mark
                values[(*top.path, len(top.container))] = (mark.line + 1, mark.column + 1)
            top.container.append(value)  # type: ignore[union-attr]  # a list: not is_map
            continue
        if top.key is _NO_KEY:
            if isinstance(value, dict | list):
                raise _fail(file, event.start_mark, "a mapping key must be a plain value")
            first = keys.get((*top.path, value))
            if first is not None:
                raise _fail(
                    file, event.start_mark, f"duplicate key {value!r} (first at line {first[0]})"
                )
            top.key = value
            top.merge = value == "<<" and kind is yaml.ScalarEvent and not event.style
            if not top.merge:
                mark = event.start_mark
                keys[(*top.path, value)] = (mark.line + 1, mark.column + 1)
            continue
        if top.merge:
            _merge(file, top.container, value, event)  # type: ignore[arg-type]
        else:
            if kind is not yaml.MappingEndEvent and kind is not yaml.SequenceEndEvent:
                mark = event.start_mark
                values[(*top.path, top.key)] = (mark.line + 1, mark.column + 1)
            top.container[top.key] = value
        top.key = _NO_KEY
        top.merge = False
    values.setdefault((), (1, 1))
    return data, positions


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """For code that allocates many small objects and builds no cycles: the cyclic garbage
    collector only costs time there (~25% of loading YAML: an anchor cannot refer to itself
    before it is complete, so the loaded data holds no cycle)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads(text: str, file: str = "<string>") -> LoadedYaml:
    """Parse one YAML document. Raises ManifestError with a located message on any problem."""
    if len(text) > MAX_FILE_BYTES:
        raise ManifestError(
            [Diagnostic(file, 1, 1, f"the file is larger than {MAX_FILE_BYTES:,} bytes")]
        )
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ManifestError([Diagnostic(file, line, 1, "the file holds a NUL byte; is it binary?")])
    with collector_paused():
        data = fast_yaml.read(text, MAX_DEPTH, MAX_NODES, MAX_SCALAR_BYTES)
    if fast_yaml.was_read(data):
        return LoadedYaml(file, data, text)
    data, positions = _strict(text, file)
    return LoadedYaml(file, data, text, positions)


def _strict(text: str, file: str) -> tuple[Any, Positions]:
    import yaml

    try:
        with collector_paused():
            return _build(text, file)
    except yaml.MarkedYAMLError as exc:
        raise ManifestError([_syntax_diagnostic(file, text, exc)]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([Diagnostic(file, 1, 1, f"invalid YAML: {exc}")]) from None


def _syntax_diagnostic(file: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = _position(mark) if mark is not None else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        problem = "a tab character cannot indent YAML; use spaces"
    elif "nesting depth" in problem:
        problem = "nesting is too deep; flatten the document"
    return Diagnostic(file, line, col, problem)
