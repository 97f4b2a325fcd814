"""Manifest v1: read, check against the JSON Schema and the connection types, build the model.

Every problem is reported, located at its line and column, sorted by position. Nothing here
reads a secret: references are only parsed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from flowplan.errors import Diagnostic, ManifestError
from flowplan.flowservice.catalog import BUILTIN_TYPES, ConnectionType, type_for_spec
from flowplan.manifest import yaml_loader as yamlload
from flowplan.manifest.schema_files import load_schema, validator
from flowplan.model import DesiredConnection, Manifest, ParamValue, SpecRef
from flowplan.references import resolver as refs

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA = "manifest.schema.json"
_MAX_SHOWN = 60
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def load(path: Path) -> Manifest:
    """Read and check the manifest at `path`; raises ManifestError listing every problem."""
    shown = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Diagnostic(shown, 1, 1, "no such manifest file")]) from None
    except IsADirectoryError:
        raise ManifestError([Diagnostic(shown, 1, 1, "is a directory, not a file")]) from None
    except OSError as exc:
        raise ManifestError([Diagnostic(shown, 1, 1, f"cannot read: {exc.strerror}")]) from None
    return loads(data, shown, base_path=path)


def loads(data: bytes, file: str, base_path: Path | None = None) -> Manifest:
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError([Diagnostic(file, line, 1, "the file is not UTF-8 text")]) from None
    doc = yamlload.loads(text, file)
    _check_root(doc)
    with yamlload.collector_paused():  # the checks below build only acyclic records
        problems = {} if _fast_valid(doc.data) else _schema_problems(doc)
        checker = _SemanticChecker(doc)
        connections = checker.build()
    diagnostics = [_diagnostic(doc, path, msg) for path, msg in problems]
    diagnostics += checker.diagnostics
    if diagnostics:
        raise ManifestError(diagnostics)
    return Manifest(
        path=base_path or Path(file),
        sandbox=doc.data.get("sandbox"),
        connections=connections,
        digest=digest,
    )


def _check_root(doc: yamlload.LoadedYaml) -> None:
    if doc.data is None:
        raise ManifestError(
            [
                Diagnostic(
                    doc.file,
                    1,
                    1,
                    "the manifest is empty; it needs `version: 1` and `connections:`",
                )
            ]
        )
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__}"
        raise ManifestError(
            [Diagnostic(doc.file, 1, 1, f"the manifest must be a mapping, not {kind}")]
        )


# --- JSON Schema ------------------------------------------------------------------------------

_Problems = dict[tuple[tuple[Any, ...], str], None]  # an ordered set of (path, message)


@functools.cache
def _fast_validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(load_schema(SCHEMA), formats={"uuid": _UUID})


def _fast_valid(data: Any) -> bool:
    """Why two validators: jsonschema reports every error with its path but takes ~2.5 s on
    10,000 connections; fastjsonschema compiles the same schema to code and says yes or no in
    ~0.2 s. A valid manifest (the usual case) needs only the fast one; an invalid one gets
    jsonschema's full report. tests/test_manifest_schema.py checks that they agree."""
    try:
        _fast_validator()(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _schema_problems(doc: yamlload.LoadedYaml) -> _Problems:
    """Schema errors keyed by a location path ("<key>" as last part marks a key's position)."""
    problems: _Problems = {}
    for error in validator(SCHEMA).iter_errors(doc.data):
        problems.update(dict.fromkeys(_explain(error)))
    return problems


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "the manifest"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _explain(error: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    path = tuple(error.absolute_path)
    where = _dotted(path)
    kind: Any = error.validator
    expected: Any = error.validator_value
    value: Any = error.instance
    schema: Any = error.schema
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        return [
            (
                (*path, k, "<key>"),
                f"{_dotted((*path, k))}: unknown field {k!r}; allowed: {', '.join(allowed)}",
            )
            for k in extra
        ]
    if "propertyNames" in error.relative_schema_path:
        return [
            (
                (*path, value, "<key>"),
                f"{_dotted((*path, value))}: key {_short(value)} must match "
                f"{expected} (lower-case letters, digits, '-' and '_')",
            )
        ]
    if kind == "required":
        missing = [r for r in expected if r not in value] if isinstance(value, dict) else []
        at = (*path, "<key>") if path else path  # the line that names the mapping
        return [(at, f"{where}: {_short(r)} is required") for r in missing]
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
        "type": lambda: (
            f"expected {_type_names(expected)}, got {_yaml_type(value)} {_short(value)}"
        ),
        "const": lambda: f"must be {expected!r}, got {_short(value)}",
        "enum": lambda: f"{_short(value)} is not one of {', '.join(map(str, expected))}",
        "maxLength": lambda: f"is {len(value):,} characters long; at most {expected:,} allowed",
        "minLength": lambda: "must not be empty",
        "pattern": lambda: f"{_short(value)} does not match {expected}",
        "format": lambda: f"{_short(value)} is not a valid {expected}",
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


def _diagnostic(doc: yamlload.LoadedYaml, path: tuple[Any, ...], message: str) -> Diagnostic:
    if path and path[-1] == "<key>":
        pos = doc.key_position(path[:-1])
    else:
        pos = doc.value_position(path)
    return Diagnostic(doc.file, pos.line, pos.col, message)


# --- semantic checks and the model ------------------------------------------------------------


class _SemanticChecker:
    """Checks what the schema cannot, and builds DesiredConnection records."""

    def __init__(self, doc: yamlload.LoadedYaml) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def error(self, path: tuple[Any, ...], message: str, key: bool = False) -> None:
        pos = self.doc.key_position(path) if key else self.doc.value_position(path)
        self.diagnostics.append(Diagnostic(self.doc.file, pos.line, pos.col, message))

    def build(self) -> dict[str, DesiredConnection]:
        """Checks every connection, even one with schema errors, as far as its shape allows."""
        data = self.doc.data
        sandbox = data.get("sandbox")
        if isinstance(sandbox, str):
            self.template(("sandbox",), sandbox)
        connections = data.get("connections")
        if not isinstance(connections, dict):
            return {}
        built: dict[str, DesiredConnection] = {}
        names: dict[tuple[str, str], str] = {}
        for key, body in connections.items():
            if not isinstance(body, dict):
                continue
            conn = self.connection(str(key), body)
            name = body.get("name")
            spec = conn.spec if conn is not None else self._spec(body)[1]
            if isinstance(name, str) and spec is not None:
                self._check_unique_name(names, (spec.id, name), str(key))
            if conn is not None:
                built[conn.key] = conn
        return built

    def _check_unique_name(
        self, names: dict[tuple[str, str], str], key: tuple[str, str], conn_key: str
    ) -> None:
        other = names.setdefault(key, conn_key)
        if other == conn_key:
            return
        line = self.doc.value_position(("connections", other, "name")).line
        self.error(
            ("connections", conn_key, "name"),
            f"connections.{conn_key}.name: {key[1]!r} is also the name of connections.{other} "
            f"(line {line}); names must be unique per connection spec",
        )

    def template(self, path: tuple[Any, ...], raw: Any) -> refs.Template | None:
        if not isinstance(raw, str):
            return None  # the schema reports the type
        try:
            return refs.parse(raw)
        except refs.RefSyntaxError as exc:
            self.error(path, f"{_dotted(path)}: {exc}")
            return None

    def connection(self, key: str, body: Mapping[str, Any]) -> DesiredConnection | None:
        base = ("connections", key)
        ctype, spec = self._spec(body)
        auth = body.get("auth")
        auth = auth if isinstance(auth, dict) else {}
        params = auth.get("params")
        params = params if isinstance(params, dict) else {}
        auth_spec_name = auth.get("specName")
        secret_params: frozenset[str] | None = None
        valid = spec is not None and isinstance(auth.get("params"), dict)
        if ctype is not None and (auth_spec_name is None or isinstance(auth_spec_name, str)):
            auth_spec = ctype.auth_spec(auth_spec_name or ctype.default_auth_spec.name)
            if auth_spec is None:
                choices = ", ".join(repr(a.name) for a in ctype.auth_specs)
                where = (*base, "auth", "specName")
                self.error(
                    where,
                    f"{_dotted(where)}: {ctype.name} has no auth spec "
                    f"{auth_spec_name!r}; use {choices}",
                )
                valid = False
            else:
                auth_spec_name = auth_spec.name
                secret_params = auth_spec.secret_params
                if isinstance(auth.get("params"), dict):
                    self._check_params(base, params, auth_spec.properties, auth_spec.required)
        checked = self._params(base, params, secret_params or frozenset())
        name = self.template((*base, "name"), body.get("name"))
        description = body.get("description")
        desc = self.template((*base, "description"), description)
        if not valid or spec is None or name is None or checked is None:
            return None
        if description is not None and desc is None:
            return None
        return DesiredConnection(
            key=key,
            spec=spec,
            type_name=ctype.name if ctype and "type" in body else None,
            name=name,
            description=desc,
            protect=body.get("protect") is True,
            auth_spec_name=auth_spec_name if isinstance(auth_spec_name, str) else None,
            params=checked,
            secret_params=secret_params,
        )

    def _spec(self, body: Mapping[str, Any]) -> tuple[ConnectionType | None, SpecRef | None]:
        type_name, spec = body.get("type"), body.get("connectionSpec")
        if isinstance(type_name, str) and type_name in BUILTIN_TYPES and spec is None:
            ctype = BUILTIN_TYPES[type_name]
            return ctype, SpecRef(ctype.spec_id, ctype.version)
        if type_name is None and isinstance(spec, dict) and isinstance(spec.get("id"), str):
            version = spec.get("version", "1.0")
            spec_ref = SpecRef(spec["id"].lower(), version if isinstance(version, str) else "1.0")
            return type_for_spec(spec_ref.id), spec_ref
        return None, None

    def _check_params(
        self,
        base: tuple[Any, ...],
        params: Mapping[str, Any],
        properties: Mapping[str, Any],
        required: frozenset[str],
    ) -> None:
        where = (*base, "auth", "params")
        for name in sorted(required - set(params)):
            self.error(where, f"{_dotted(where)}: {name!r} is required", key=True)
        for name in params:
            if name not in properties:
                allowed = ", ".join(properties)
                self.error(
                    (*where, name),
                    f"{_dotted((*where, name))}: unknown param {name!r}; allowed: {allowed}",
                    key=True,
                )

    def _params(
        self, base: tuple[Any, ...], params: Mapping[str, Any], secret: frozenset[str]
    ) -> dict[str, ParamValue] | None:
        out: dict[str, ParamValue] = {}
        ok = True
        for name, value in params.items():
            path = (*base, "auth", "params", name)
            if not isinstance(value, str):
                if name in secret:
                    self.error(
                        path,
                        f"{_dotted(path)}: a secret must be a single ${{env:NAME}} or "
                        "${file:PATH} reference",
                    )
                    ok = False
                out[name] = value
                continue
            template = self.template(path, value)
            if template is None:
                ok = False
                continue
            if name in secret and not template.is_single_ref:
                what = "a literal value" if template.is_literal else "text around a reference"
                self.error(
                    path,
                    f"{_dotted(path)}: is secret, so it must be exactly one "
                    f"${{env:NAME}} or ${{file:PATH}} reference, not {what} (it would be "
                    "committed to git)",
                )
                ok = False
                continue
            out[name] = template
        return out if ok else None
