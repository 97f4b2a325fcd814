"""`flowplan export`: a manifest for the connections a sandbox already has.

Keys come from names (lower-cased, unique); non-secret params are filled in; secrets become
`${env:…}` placeholders listed in a comment. Several connections with one spec and name cannot
share a manifest (names are unique per spec), so the extra ones are listed for `import`.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

import yaml

from flowplan.engine.export_pipelines import Pipelines, pipeline_sections
from flowplan.flowservice.catalog import BUILTIN_TYPES
from flowplan.flowservice.specs import SpecCatalog
from flowplan.kinds.connection import ConnectionKind
from flowplan.model import Remote

_NOT_KEY = re.compile(r"[^a-z0-9_-]+")


def key_for(name: str, taken: set[str]) -> str:
    base = _NOT_KEY.sub("-", name.lower()).strip("-_")[:56] or "connection"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def env_name(key: str, param: str) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", param)
    name = re.sub(r"[^A-Z0-9]+", "_", f"{key}_{snake}".upper()).strip("_")
    return name if name[:1].isalpha() else f"V_{name}"  # a variable name cannot start with a digit


def export_manifest(
    remote: Sequence[Remote],
    catalog: SpecCatalog,
    sandbox: str,
    type_name: str | None,
    pipelines: Pipelines | None = None,
) -> str:
    """YAML text of a v1 manifest for `remote` (already listed, secrets masked or absent),
    and for the `pipelines` built on the exported connections."""
    wanted_spec = BUILTIN_TYPES[type_name].spec_id if type_name else None
    connections: dict[str, Any] = {}
    variables: list[str] = []
    skipped: list[tuple[str, str, str]] = []
    seen: dict[Hashable, tuple[str, str]] = {}  # identity -> (key, id exported)
    taken: set[str] = set()
    exported: dict[str, str] = {}  # connection id -> key
    kind = ConnectionKind(catalog)
    for conn in sorted(remote, key=lambda r: (r.attributes["name"], r.id)):
        if wanted_spec and kind.spec_id(conn.attributes) != wanted_spec:
            continue
        identity = kind.identity(conn.attributes)
        if identity in seen:
            first_key, first_id = seen[identity]
            skipped.append((first_key, first_id, conn.id))
            continue
        key = key_for(conn.attributes["name"], taken)
        seen[identity] = (key, conn.id)
        exported[conn.id] = key
        connections[key], secret_params = kind.export_entry(conn)
        for param in secret_params:
            variable = env_name(key, param)
            connections[key]["auth"]["params"][param] = f"${{env:{variable}}}"
            variables.append(variable)
    document: dict[str, Any] = {"version": 1, "sandbox": sandbox, "connections": connections}
    header = [f"# Exported by `flowplan export` from sandbox {sandbox}."]
    if pipelines is not None:
        sections, notes = pipeline_sections(pipelines, exported, key_for)
        document |= _escaped(sections)
        if notes:
            header.append("# Not exported:")
            header += [f"#   {note}" for note in notes]
    if variables:
        header.append("# Set these environment variables (the secrets cannot be read back):")
        header += [f"#   {v}" for v in variables]
    if skipped:
        header.append("# Several connections share a spec and name; a manifest holds one of each,")
        header.append("# so plan cannot adopt them by name. Pin the exported one first:")
        for key in dict.fromkeys(k for k, _, _ in skipped):
            first_id = next(i for k, i, _ in skipped if k == key)
            others = ", ".join(o for k, _, o in skipped if k == key)
            header.append(f"#   flowplan import {key} {first_id}    # not exported: {others}")
    body_text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body_text


def _escaped(value: Any) -> Any:
    """`${` in an exported value written as `$${`, so it reads back as the same text."""
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value.replace("${", "$${") if isinstance(value, str) else value
