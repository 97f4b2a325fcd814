"""The pipeline sections (`sources`, `targets`, `mappings`, `dataflows`): what their schema
cannot check, located at the value's line and column.

- References by key: a source's `connection`, a dataflow's `source`, `target` and `mapping`
  must name an entry of that section (with a "did you mean" when one is close). The sections
  reference only downwards (dataflow → source/target/mapping → connection), so a cycle cannot
  be written; a dangling reference is the one way to break the graph.
- Schedules: `interval` is refused with `once` and must be at least 15 with `minute`; `start`
  must be a date and time.
- `deltaColumn` is required when the source's connection type is a CRM or database source.
- Every string value gets the same `${…}` treatment as a connection's non-secret fields.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Mapping
from datetime import datetime
from typing import Any, Protocol

from flowplan.flowservice.catalog import BUILTIN_TYPES, type_for_spec
from flowplan.references import template as refs

SECTIONS = ("sources", "targets", "mappings", "dataflows")
REFERENCES = {
    "sources": (("connection", "connections"),),
    "dataflows": (("source", "sources"), ("target", "targets"), ("mapping", "mappings")),
}
MIN_MINUTE_INTERVAL = 15


class Checker(Protocol):
    def error(self, path: tuple[Any, ...], message: str, key: bool = False) -> None: ...

    def template(self, path: tuple[Any, ...], raw: Any) -> refs.Template | None: ...


def check_sections(
    data: Mapping[str, Any], checker: Checker
) -> dict[str, dict[str, dict[str, Any]]]:
    """The sections' entries with `${var:}` expanded, after reporting every problem."""
    sections: dict[str, dict[str, dict[str, Any]]] = {}
    for section in SECTIONS:
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        sections[section] = {
            str(key): _expand(checker, (section,), key, entry)
            for key, entry in entries.items()
            if isinstance(entry, dict)
        }
    _check_references(data, checker)
    for key, flow in sections.get("dataflows", {}).items():
        _check_schedule(checker, ("dataflows", key), flow.get("schedule"))
        _check_delta_column(data, checker, key, flow)
    return sections


def _expand(checker: Checker, parent: tuple[Any, ...], key: Any, value: Any) -> Any:
    """`value`, found at `parent` + `key`, with its `${var:}` expanded. A string without `$`
    is its own expansion, so most values need neither the checker nor their path."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        template = checker.template((*parent, key), value)
        return template.raw if template is not None else value
    if isinstance(value, dict):
        path = (*parent, key)
        return {k: _expand(checker, path, k, v) for k, v in value.items()}
    if isinstance(value, list):
        path = (*parent, key)
        return [_expand(checker, path, i, v) for i, v in enumerate(value)]
    return value


def _check_references(data: Mapping[str, Any], checker: Checker) -> None:
    for section, fields in REFERENCES.items():
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            for field, target_section in fields:
                name = entry.get(field)
                targets = data.get(target_section)
                known = targets if isinstance(targets, dict) else {}
                if isinstance(name, str) and name not in known:
                    close = difflib.get_close_matches(name, list(known), 1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    checker.error(
                        (section, key, field),
                        f"{section}.{key}.{field}: no {target_section[:-1]} {name!r} in "
                        f"{target_section}{hint}",
                    )


def _check_schedule(checker: Checker, path: tuple[Any, ...], schedule: Any) -> None:
    if not isinstance(schedule, dict):
        return
    frequency = schedule.get("frequency", "hour")
    interval = schedule.get("interval")
    where = (*path, "schedule")
    if frequency == "once" and interval is not None:
        checker.error((*where, "interval"), f"{_dotted(where)}.interval: not allowed with once")
    # `interval: true` is the schema's to report, not "True < 15"; 5.0 is an integer to JSON
    # Schema, and is sent as 5
    if (
        frequency == "minute"
        and isinstance(interval, int | float)
        and not isinstance(interval, bool)
        and interval < MIN_MINUTE_INTERVAL
    ):
        checker.error(
            (*where, "interval"),
            f"{_dotted(where)}.interval: {interval} is less than {MIN_MINUTE_INTERVAL}, the least "
            "Flow Service allows with minute",
        )
    start = schedule.get("start")
    if isinstance(start, str) and "${" not in start and not _is_datetime(start):
        checker.error(
            (*where, "start"),
            f"{_dotted(where)}.start: {start!r} is not a date and time such as "
            "2026-12-01T00:00:00Z",
        )


def _check_delta_column(
    data: Mapping[str, Any], checker: Checker, key: str, flow: Mapping[str, Any]
) -> None:
    if flow.get("deltaColumn") is not None:
        return
    source = _entry(data, "sources", flow.get("source"))
    connection = (
        _entry(data, "connections", source.get("connection")) if isinstance(source, dict) else None
    )
    if not isinstance(connection, dict):
        return
    builtin = BUILTIN_TYPES.get(str(connection.get("type")))
    spec = connection.get("connectionSpec")
    if builtin is None and isinstance(spec, dict):
        builtin = type_for_spec(str(spec.get("id", "")).lower())
    if builtin is not None and builtin.needs_delta_column:
        checker.error(
            ("dataflows", key),
            f"dataflows.{key}: deltaColumn is required for a {builtin.name} source (Flow "
            "Service needs it to read only new rows)",
            key=True,
        )


def _entry(data: Mapping[str, Any], section: str, key: Any) -> Any:
    """The entry `key` of `section`; None when either is of a type the schema refuses."""
    entries = data.get(section)
    return entries.get(key) if isinstance(entries, dict) and isinstance(key, Hashable) else None


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)
