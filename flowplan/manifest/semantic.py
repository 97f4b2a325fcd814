"""Checks of connections that the JSON Schema cannot make, and the DesiredConnection records.

Every templated value goes through `template()`: its references are parsed, its `${var:}`
expanded for the environment being checked, and, when it holds a reference, recorded as a
`Use` so that the secret-use rules (secret_use.py) can run over the whole manifest at the end.
A manifest repeats its values (`${env:CLIENT_ID}` in every connection), so the work is done
once per distinct text and each further use only recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowplan.errors import Diagnostic
from flowplan.flowservice.catalog import BUILTIN_TYPES, AuthSpec, ConnectionType, type_for_spec
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
        self.uses: list[secret_use.Use] = []  # the values that hold a reference, in order
        # by a value's text: manifests repeat `${env:CLIENT_ID}` in every connection
        self._expanded: dict[str, Expanded] = {}
        # a secret param's accepted text: its expansion and its template marked secret
        self._secret: dict[str, tuple[Expanded, refs.Template]] = {}
        self._auth_rules: dict[tuple[str, str], AuthSpec | None] = {}  # by (type, auth spec)

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
            conn_key = str(key)
            conn = self.connection(conn_key, body)
            name = body.get("name")
            spec = conn.spec if conn is not None else self._spec(body)[1]
            if isinstance(name, str) and spec is not None:
                other = names.setdefault((spec.id, name), conn_key)
                if other != conn_key:
                    self._duplicate_name(conn_key, name, other)
            if conn is not None:
                built[conn_key] = conn
        return built

    def _duplicate_name(self, conn_key: str, name: str, other: str) -> None:
        line = self.doc.value_position(("connections", other, "name")).line
        self.error(
            ("connections", conn_key, "name"),
            f"connections.{conn_key}.name: {name!r} is also the name of connections.{other} "
            f"(line {line}); names must be unique per connection spec",
        )

    def template(
        self, path: tuple[Any, ...], raw: Any, role: str = secret_use.PLAIN
    ) -> refs.Template | None:
        """The value at `path` parsed, its vars expanded, and recorded with its role (a
        secret param's, a plain value's, or unknown until the spec is read)."""
        if not isinstance(raw, str):
            return None  # the schema reports the type
        if "$" not in raw:
            return refs.literal(raw)  # no reference: nothing to expand or to record
        expanded = self._expanded.get(raw)
        if expanded is None:
            try:
                expanded = self.variables.expand(refs.parse(raw))
            except (refs.RefSyntaxError, ExpansionError) as exc:
                self.error(path, f"{dotted(path)}: {exc}")
                return None
            self._expanded[raw] = expanded
        if expanded.template.refs:
            self.uses.append((path, expanded, role))
        return expanded.template

    def finish(self) -> None:
        """The rules that need the whole manifest: where secrets may go."""
        for path, message in secret_use.check(self.uses, self.variables.where):
            self.error(path, message)

    def references(self) -> tuple[refs.Ref, ...]:
        """Every distinct reference the manifest's values use, in order."""
        values = dict.fromkeys(value for _, value, _ in self.uses)
        return tuple(dict.fromkeys(r for value in values for r in value.template.refs))

    def connection(self, key: str, body: Mapping[str, Any]) -> DesiredConnection | None:
        base = ("connections", key)
        ctype, spec = self._spec(body)
        auth = body.get("auth")
        auth = auth if isinstance(auth, dict) else {}
        written = auth.get("params")
        has_params = isinstance(written, dict)
        params: Mapping[str, Any] = written if isinstance(written, dict) else {}
        auth_spec_name = auth.get("specName")
        secret_params: frozenset[str] | None = None
        valid = spec is not None and has_params
        if ctype is not None and (auth_spec_name is None or isinstance(auth_spec_name, str)):
            rules = self._rules(ctype, auth_spec_name or ctype.default_auth_spec.name)
            if rules is None:
                choices = ", ".join(repr(a.name) for a in ctype.auth_specs)
                where = (*base, "auth", "specName")
                self.error(
                    where,
                    f"{dotted(where)}: {ctype.name} has no auth spec "
                    f"{auth_spec_name!r}; use {choices}",
                )
                valid = False
            else:
                auth_spec_name = rules.name
                secret_params = rules.secret_params
                if has_params:
                    self._check_params(base, params, rules)
        checked = self._params(base, params, secret_params)
        name = self.template((*base, "name"), body.get("name"))
        description = body.get("description")
        desc = None if description is None else self.template((*base, "description"), description)
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

    def _rules(self, ctype: ConnectionType, auth_spec_name: str) -> AuthSpec | None:
        """What `auth.params` must hold for this auth spec (None: the type has no such spec)."""
        cache_key = (ctype.name, auth_spec_name)
        if cache_key not in self._auth_rules:
            self._auth_rules[cache_key] = ctype.auth_spec(auth_spec_name)
        return self._auth_rules[cache_key]

    def _spec(self, body: Mapping[str, Any]) -> tuple[ConnectionType | None, SpecRef | None]:
        type_name, spec = body.get("type"), body.get("connectionSpec")
        if isinstance(type_name, str) and spec is None and type_name in _BUILTIN_SPECS:
            return _BUILTIN_SPECS[type_name]
        if type_name is None and isinstance(spec, dict) and isinstance(spec.get("id"), str):
            version = spec.get("version", "1.0")
            spec_ref = SpecRef(spec["id"].lower(), version if isinstance(version, str) else "1.0")
            return type_for_spec(spec_ref.id), spec_ref
        return None, None

    def _check_params(
        self, base: tuple[Any, ...], params: Mapping[str, Any], rules: AuthSpec
    ) -> None:
        if rules.required <= params.keys() <= rules.properties.keys():
            return
        where = (*base, "auth", "params")
        for name in sorted(rules.required.difference(params)):
            self.error(where, f"{dotted(where)}: {name!r} is required", key=True)
        for name in params:
            if name not in rules.properties:
                message = unknown_field("param", name, rules.properties)
                self.error((*where, name), f"{dotted((*where, name))}: {message}", key=True)

    def _params(
        self, base: tuple[Any, ...], params: Mapping[str, Any], secret: frozenset[str] | None
    ) -> dict[str, ParamValue] | None:
        """The params as templates; `secret` None: the spec is not built in (learnt later)."""
        out: dict[str, ParamValue] = {}
        ok = True
        where = (*base, "auth", "params")
        plain_role = secret_use.UNKNOWN if secret is None else secret_use.PLAIN
        for name, value in params.items():
            path = (*where, name)
            is_secret = secret is not None and name in secret
            if not isinstance(value, str):
                if is_secret:
                    self.error(path, f"{dotted(path)}: is secret, so it must be {_ONE_REF}")
                    ok = False
                out[name] = value
                continue
            if not is_secret:
                template = self.template(path, value, plain_role)
                if template is None:
                    ok = False
                else:
                    out[name] = template
                continue
            accepted = self._secret.get(value)
            if accepted is not None:  # this text is a secret's single reference: record it
                self.uses.append((path, accepted[0], secret_use.SECRET))
                out[name] = accepted[1]
                continue
            template = self.template(path, value, secret_use.SECRET)
            if template is None:
                ok = False
            elif not template.is_single_ref:
                self.error(path, self._not_one_ref(path, value, template))
                ok = False
            else:
                out[name] = marked = refs.as_secret(template)
                self._secret[value] = (self._expanded[value], marked)
        return out if ok else None

    def _not_one_ref(self, path: tuple[Any, ...], raw: str, template: refs.Template) -> str:
        what = "a literal value" if template.is_literal else "text around a reference"
        expanded = self._expanded.get(raw)
        used = expanded.vars_used if expanded is not None else ()
        via = f"{', '.join(self.variables.where(v) for v in used)} gives it {what}" if used else ""
        return (
            f"{dotted(path)}: is secret, so it must be {_ONE_REF}, not {what} (it would be "
            f"committed to git){'; ' + via if via else ''}"
        )


_BUILTIN_SPECS: dict[str, tuple[ConnectionType, SpecRef]] = {
    name: (ctype, SpecRef(ctype.spec_id, ctype.version)) for name, ctype in BUILTIN_TYPES.items()
}


_ONE_REF = (
    "exactly one reference such as ${env:NAME}, ${file:PATH}, ${aws-sm:ID}, "
    "${aws-ssm:/NAME} or ${vault:MOUNT/PATH#KEY}"
)
