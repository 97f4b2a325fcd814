"""Environments and `${var:NAME}`: one manifest, several sandboxes.

An environment's vars override the top-level `vars:`. A `${var:NAME}` is expanded when the
manifest is loaded, inside the parsed template (so `$${` and references in a var's value keep
their meaning), and every error it causes names the environment and the var.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowplan.errors import Diagnostic
from flowplan.manifest import yaml_loader as yamlload
from flowplan.manifest.schema_check import dotted
from flowplan.references import template as refs


class ExpansionError(ValueError):
    """A var cannot be expanded where it is used; the message names the environment and var."""


@dataclass(frozen=True, slots=True, eq=False)
class Expanded:
    """A value with its vars expanded. Hashed and compared by identity: the checker makes one
    per distinct text and the secret-use rules cache their verdict per value."""

    template: refs.Template
    origins: Mapping[refs.Ref, str] = field(default_factory=dict)  # ref -> the var it came from
    vars_used: tuple[str, ...] = ()


@dataclass(slots=True)
class Variables:
    """The vars in force for one environment (or for a manifest without environments)."""

    environment: str | None
    values: dict[str, refs.Template] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def where(self, name: str) -> str:
        env = f"environment {self.environment}: " if self.environment else ""
        return f"{env}${{var:{name}}}"

    def expand(self, template: refs.Template) -> Expanded:
        """`template` with its vars replaced; raises ExpansionError."""
        if not any(r.kind == "var" for r in template.refs):
            return Expanded(template)
        parts: list[str | refs.Ref] = []
        origins: dict[refs.Ref, str] = {}
        used: list[str] = []
        for part in template.parts:
            if not isinstance(part, refs.Ref) or part.kind != "var":
                parts.append(part)
                continue
            value = self.values.get(part.target)
            if part.target in self.broken:
                raise ExpansionError(f"{self.where(part.target)} has an invalid value")
            if value is None:
                raise ExpansionError(f"{self.where(part.target)} is not defined ({self._hint()})")
            used.append(part.target)
            parts.extend(value.parts)
            origins.update(dict.fromkeys(value.refs, part.target))
        try:
            expanded = refs.render(parts)
        except refs.RefSyntaxError as exc:
            name = next(n for n in used if self.values[n].refs)
            raise ExpansionError(f"{self.where(name)}: {exc}") from None
        return Expanded(expanded, origins, tuple(used))

    def _hint(self) -> str:
        if self.environment is None:
            return "define it under vars"
        return f"define it under vars or environments.{self.environment}.vars"


def environment_names(data: Mapping[str, Any]) -> list[str]:
    envs = data.get("environments")
    return [str(k) for k in envs] if isinstance(envs, dict) else []


def variables(doc: yamlload.LoadedYaml, environment: str | None) -> Variables:
    """The vars for `environment`: top-level vars, then the environment's over them; each value
    parsed (a syntax error, or a var naming another var, is a diagnostic at its value)."""
    found = Variables(environment)
    sources: list[tuple[Any, ...]] = [("vars",)]
    if environment is not None:
        sources.append(("environments", environment, "vars"))
    for base in sources:
        table = _get(doc.data, base)
        if not isinstance(table, dict):
            continue
        for name, raw in table.items():
            if isinstance(raw, str):
                _parse_var(doc, found, (*base, name), str(name), raw)
    return found


def _parse_var(
    doc: yamlload.LoadedYaml, found: Variables, path: tuple[Any, ...], name: str, raw: str
) -> None:
    try:
        template = refs.parse(raw)
        if any(r.kind == "var" for r in template.refs):
            raise refs.RefSyntaxError("a var's value cannot use another ${var:…}")
    except refs.RefSyntaxError as exc:
        pos = doc.value_position(path)
        message = f"{dotted(path)}: {found.where(name)}: {exc}"
        found.diagnostics.append(Diagnostic(doc.file, pos.line, pos.col, message))
        found.broken.add(name)
        found.values.pop(name, None)
        return
    found.broken.discard(name)
    found.values[name] = template


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data
