"""The manifest's JSON Schema check, with every error explained at its line and column.

Unknown fields get a "did you mean" suggestion (difflib) when one is close enough.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import fastjsonschema

from flowplan.errors import Diagnostic
from flowplan.manifest import yaml_loader as yamlload
from flowplan.manifest.schema_files import load_schema, validator

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA = "manifest.schema.json"
_MAX_SHOWN = 60
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# --- JSON Schema ------------------------------------------------------------------------------

_Problems = dict[tuple[tuple[Any, ...], str], None]  # an ordered set of (path, message)


@functools.cache
def _fast_validator(present: frozenset[str]) -> Callable[[Any], Any]:
    """Compiled for the top-level sections a manifest has. A section that is absent is never
    checked, so leaving it out gives the same answer (the top level stays closed: a key the
    schema does not know is still refused), and compiling the pipeline and environment
    sections costs ~0.09 s of every run that has none."""
    schema = load_schema(SCHEMA)
    kept = present | set(schema.get("required", ()))
    properties = {k: v for k, v in schema["properties"].items() if k in kept}
    return fastjsonschema.compile({**schema, "properties": properties}, formats={"uuid": _UUID})


def _fast_valid(data: Any) -> bool:
    """Why two validators: jsonschema reports every error with its path but takes ~2.5 s on
    10,000 connections; fastjsonschema compiles the same schema to code and says yes or no in
    ~0.2 s. A valid manifest (the usual case) needs only the fast one; an invalid one gets
    jsonschema's full report. tests/test_manifest_schema.py checks that they agree."""
    present = frozenset(k for k in data if isinstance(k, str)) if isinstance(data, dict) else None
    try:
        _fast_validator(present or frozenset())(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _schema_problems(doc: yamlload.LoadedYaml) -> _Problems:
    """Schema errors keyed by a location path ("<key>" as last part marks a key's position)."""
    problems: _Problems = {}
    for error in validator(SCHEMA).iter_errors(doc.data):
        problems.update(dict.fromkeys(_explain(error)))
    return problems


def dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "the manifest"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _explain(error: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    path = tuple(error.absolute_path)
    where = dotted(path)
    kind: Any = error.validator
    expected: Any = error.validator_value
    value: Any = error.instance
    schema: Any = error.schema
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        return [
            ((*path, k, "<key>"), f"{dotted((*path, k))}: {unknown_field('field', k, allowed)}")
            for k in extra
        ]
    if "propertyNames" in error.relative_schema_path:
        return [
            (
                (*path, value, "<key>"),
                f"{dotted((*path, value))}: key {short(value)} must match "
                f"{expected} (lower-case letters, digits, '-' and '_')",
            )
        ]
    if kind == "required":
        missing = [r for r in expected if r not in value] if isinstance(value, dict) else []
        at = (*path, "<key>") if path else path  # the line that names the mapping
        return [(at, f"{where}: {short(r)} is required") for r in missing]
    if kind == "oneOf" and isinstance(value, dict):
        both = "type" in value and "connectionSpec" in value
        return [
            (
                (*path, "<key>"),
                f"{where}: give either `type` or `connectionSpec`, "
                + ("not both" if both else "one of them"),
            )
        ]
    messages: dict[str, Callable[[], str]] = {
        "type": lambda: f"expected {_type_names(expected)}, got {_yaml_type(value)} {short(value)}",
        "const": lambda: f"must be {expected!r}, got {short(value)}",
        "enum": lambda: f"{short(value)} is not one of {', '.join(map(str, expected))}",
        "maxLength": lambda: f"is {len(value):,} characters long; at most {expected:,} allowed",
        "minLength": lambda: "must not be empty",
        "pattern": lambda: f"{short(value)} does not match {expected}",
        "format": lambda: f"{short(value)} is not a valid {expected}",
    }
    explain = messages.get(kind, lambda: str(error.message)[:200])
    return [(path, f"{where}: {explain()}")]


def _type_names(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "number": "a number",
        "boolean": "true or false",
        "integer": "an integer",
        "null": "nothing",
    }
    return " or ".join(words.get(str(n), str(n)) for n in names)


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "an empty value"
    return {dict: "a mapping", list: "a list", str: "string", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def unknown_field(what: str, name: str, allowed: Iterable[str]) -> str:
    """`unknown field 'descripton' (did you mean 'description'?)`, or the allowed names."""
    choices = list(allowed)
    # a YAML key may be null, a number or a boolean: nothing to suggest for those
    close = (
        difflib.get_close_matches(name, choices, n=1, cutoff=0.75) if isinstance(name, str) else []
    )
    if close:
        return f"unknown {what} {name!r} (did you mean {close[0]!r}?)"
    return f"unknown {what} {name!r}; allowed: {', '.join(choices)}"


def schema_diagnostics(doc: yamlload.LoadedYaml) -> list[Diagnostic]:
    """Every schema error of the document, located; none (fast) for a valid one."""
    if _fast_valid(doc.data):
        return []
    return [_diagnostic(doc, path, msg) for path, msg in _schema_problems(doc)]


def _diagnostic(doc: yamlload.LoadedYaml, path: tuple[Any, ...], message: str) -> Diagnostic:
    if path and path[-1] == "<key>":
        pos = doc.key_position(path[:-1])
    else:
        pos = doc.value_position(path)
    return Diagnostic(doc.file, pos.line, pos.col, message)
