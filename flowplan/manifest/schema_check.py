"""The manifest's JSON Schema check, with every error explained at its line and column.

Unknown fields get a "did you mean" suggestion (difflib) when one is close enough.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flowplan.errors import Diagnostic
from flowplan.manifest import yaml_loader as yamlload
from flowplan.manifest.schema_files import UUID_PATTERN, load_schema, schema_digest, validator

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA = "manifest.schema.json"
_MAX_SHOWN = 60

# --- JSON Schema ------------------------------------------------------------------------------

_Problems = dict[tuple[tuple[Any, ...], str], None]  # an ordered set of (path, message)


@functools.cache
def _fast_validator() -> Callable[[Any], bool]:
    """The ahead-of-time compiled validator (`compiled_schema.py`), or, when the schema has
    changed since it was generated (a checkout being edited), one compiled now."""
    compiled = importlib.import_module("flowplan.manifest.compiled_schema")  # untyped: generated
    if schema_digest() == compiled.SCHEMA_SHA256:
        return _says_valid(compiled.validate, compiled.JsonSchemaException)
    import fastjsonschema

    validate = fastjsonschema.compile(load_schema(SCHEMA), formats={"uuid": UUID_PATTERN})
    return _says_valid(validate, fastjsonschema.JsonSchemaException)


def _says_valid(validate: Callable[[Any], Any], invalid: type[Exception]) -> Callable[[Any], bool]:
    def is_valid(data: Any) -> bool:
        try:
            validate(data)
        except invalid:
            return False
        return True

    return is_valid


def _fast_valid(data: Any) -> bool:
    """Why two validators: jsonschema reports every error with its path but takes ~2.5 s on
    10,000 connections; fastjsonschema's code for the same schema says yes or no in ~0.1 s. A
    valid manifest (the usual case) needs only the fast one; an invalid one gets jsonschema's
    full report. tests/test_manifest_schema.py checks that they agree."""
    return _fast_validator()(data)


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
    either = _type_or_spec(error)
    if either is not None:
        at = path[:-1] if path[-1:] == ("connectionSpec",) else path
        return [((*at, "<key>"), f"{dotted(at)}: give either `type` or `connectionSpec`, {either}")]
    if kind == "required":
        missing = [r for r in expected if r not in value] if isinstance(value, dict) else []
        at = (*path, "<key>") if path else path  # the line that names the mapping
        return [(at, f"{where}: {short(r)} is required") for r in missing]
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


def _type_or_spec(error: ValidationError) -> str | None:
    """What a connection's `if: type / then: no connectionSpec / else: connectionSpec` says."""
    schema_path = list(error.absolute_schema_path)
    if "else" in schema_path[-2:]:
        return "one of them"
    if "then" in schema_path[-3:]:
        return "not both"
    return None


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
