"""Checks of connections that the JSON Schema cannot make, and the DesiredConnection records.

Every templated value goes through `template()`: its references are parsed, its `${var:}`
expanded for the environment being checked, and the result recorded as a `Use` so that the
secret-use rules (secret_use.py) can run over the whole manifest at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowplan.errors import Diagnostic
from flowplan.flowservice.catalog import BUILTIN_TYPES, ConnectionType, type_for_spec
from flowplan.manifest import secret_use
from flowplan.manifest import yaml_loader as yamlload
from flowplan.manifest.environments import Expanded, ExpansionError, Variables
from flowplan.manifest.schema_check import dotted, unknown_field
from flowplan.model import DesiredConnection, ParamValue, SpecRef
from flowplan.references import template as refs


class SemanticChecker:
    """Checks what the schema cannot, and builds DesiredConnection records."""

    def __init__(self, doc: yamlload.LoadedYaml, variables: Variables) -> None:
        self.doc = doc
        self.variables = variables
        self.diagnostics: list[Diagnostic] = list(variables.diagnostics)
        self.uses: list[secret_use.Use] = []
        self._vars_used: dict[tuple[Any, ...], tuple[str, ...]] = {}
        # a value's expansion by its text: manifests repeat `${env:CLIENT_ID}` in every
        # connection (a str's hash is cached, a Template's is not)
        self._expanded: dict[str, Expanded] = {}

    def error(self, path: tuple[Any, ...], message: str, key: bool = False) -> None:
        pos = self.doc.key_position(path) if key else self.doc.value_position(path)
        self.diagnostics.append(Diagnostic(self.doc.file, pos.line, pos.col, message))

    def build(self) -> dict[str, DesiredConnection]:
        """Checks every connection, even one with schema errors, as far as its shape allows."""
        data = self.doc.data
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

    def template(
        self, path: tuple[Any, ...], raw: Any, role: str = secret_use.PLAIN
    ) -> refs.Template | None:
        """The value at `path` parsed, its vars expanded, and recorded with its role (a
        secret param's, a plain value's, or unknown until the spec is read)."""
        if not isinstance(raw, str):
            return None  # the schema reports the type
        expanded = self._expanded.get(raw)
        if expanded is None:
            try:
                expanded = self.variables.expand(refs.parse(raw))
            except (refs.RefSyntaxError, ExpansionError) as exc:
                self.error(path, f"{dotted(path)}: {exc}")
                return None
            self._expanded[raw] = expanded
        self.uses.append(secret_use.Use(path, expanded.template, role, expanded.origins))
        self._vars_used[path] = expanded.vars_used
        return expanded.template

    def finish(self) -> None:
        """The rules that need the whole manifest: where secrets may go."""
        for path, message in secret_use.check(self.uses, self.variables.where):
            self.error(path, message)

    def references(self) -> tuple[refs.Ref, ...]:
        """Every distinct reference the manifest's values use, in order."""
        return tuple(dict.fromkeys(r for use in self.uses for r in use.template.refs))

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
                    f"{dotted(where)}: {ctype.name} has no auth spec "
                    f"{auth_spec_name!r}; use {choices}",
                )
                valid = False
            else:
                auth_spec_name = auth_spec.name
                secret_params = auth_spec.secret_params
                if isinstance(auth.get("params"), dict):
                    self._check_params(base, params, auth_spec.properties, auth_spec.required)
        checked = self._params(base, params, secret_params)
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
            self.error(where, f"{dotted(where)}: {name!r} is required", key=True)
        for name in params:
            if name not in properties:
                message = unknown_field("param", name, properties)
                self.error((*where, name), f"{dotted((*where, name))}: {message}", key=True)

    def _params(
        self, base: tuple[Any, ...], params: Mapping[str, Any], secret: frozenset[str] | None
    ) -> dict[str, ParamValue] | None:
        """The params as templates; `secret` None: the spec is not built in (learnt later)."""
        out: dict[str, ParamValue] = {}
        ok = True
        for name, value in params.items():
            path = (*base, "auth", "params", name)
            is_secret = secret is not None and name in secret
            if not isinstance(value, str):
                if is_secret:
                    self.error(path, f"{dotted(path)}: is secret, so it must be {_ONE_REF}")
                    ok = False
                out[name] = value
                continue
            role = secret_use.UNKNOWN if secret is None else secret_use.PLAIN
            template = self.template(path, value, secret_use.SECRET if is_secret else role)
            if template is None:
                ok = False
            elif is_secret and not template.is_single_ref:
                self.error(path, self._not_one_ref(path, template))
                ok = False
            else:
                out[name] = refs.as_secret(template) if is_secret else template
        return out if ok else None

    def _not_one_ref(self, path: tuple[Any, ...], template: refs.Template) -> str:
        what = "a literal value" if template.is_literal else "text around a reference"
        used = self._vars_used.get(path, ())
        via = f"{', '.join(self.variables.where(v) for v in used)} gives it {what}" if used else ""
        return (
            f"{dotted(path)}: is secret, so it must be {_ONE_REF}, not {what} (it would be "
            f"committed to git){'; ' + via if via else ''}"
        )


_ONE_REF = (
    "exactly one reference such as ${env:NAME}, ${file:PATH}, ${aws-sm:ID}, "
    "${aws-ssm:/NAME} or ${vault:MOUNT/PATH#KEY}"
)
