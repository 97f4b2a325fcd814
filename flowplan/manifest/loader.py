"""Manifest v1: read, check against the JSON Schema and the connection types, build the model.

Every problem is reported, located at its line and column, sorted by position. Nothing here
reads a secret: references are only parsed (and `${var:}` expanded).

With `environments:`, a manifest is loaded for one environment (`load(path, env)`); `validate`
checks every one (`load_all`), and a problem that only one environment has names it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flowplan.errors import Diagnostic, ManifestError
from flowplan.manifest import yaml_loader as yamlload
from flowplan.manifest.environments import environment_names, variables
from flowplan.manifest.pipelines import check_sections
from flowplan.manifest.schema_check import schema_diagnostics
from flowplan.manifest.semantic import SemanticChecker
from flowplan.model import Manifest


def load(path: Path, env: str | None = None) -> Manifest:
    """Read and check the manifest at `path` for environment `env`; raises ManifestError
    listing every problem (a manifest with environments needs one chosen)."""
    return loads(_read(path), str(path), base_path=path, env=env)


def load_all(path: Path) -> dict[str | None, Manifest]:
    """The manifest once per environment (key None when it has none), every environment
    checked; raises ManifestError with the problems of all of them."""
    return loads_all(_read(path), str(path), base_path=path)


def loads(
    data: bytes, file: str, base_path: Path | None = None, env: str | None = None
) -> Manifest:
    doc, digest = _parse(data, file)
    names = environment_names(doc.data)
    _check_choice(doc, names, env)
    manifest, diagnostics = _check(doc, env, digest, base_path or Path(file))
    if diagnostics or manifest is None:
        raise ManifestError(diagnostics)
    return manifest


def loads_all(data: bytes, file: str, base_path: Path | None = None) -> dict[str | None, Manifest]:
    doc, digest = _parse(data, file)
    names: list[str | None] = [*environment_names(doc.data)] or [None]
    found: dict[str | None, Manifest] = {}
    diagnostics: dict[Diagnostic, None] = {}
    for name in names:
        manifest, problems = _check(doc, name, digest, base_path or Path(file))
        diagnostics.update(dict.fromkeys(problems))
        if manifest is not None:
            found[name] = manifest
    if diagnostics:
        raise ManifestError(list(diagnostics))
    return found


def _read(path: Path) -> bytes:
    shown = str(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Diagnostic(shown, 1, 1, "no such manifest file")]) from None
    except IsADirectoryError:
        raise ManifestError([Diagnostic(shown, 1, 1, "is a directory, not a file")]) from None
    except OSError as exc:
        raise ManifestError([Diagnostic(shown, 1, 1, f"cannot read: {exc.strerror}")]) from None


def _parse(data: bytes, file: str) -> tuple[yamlload.LoadedYaml, str]:
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError([Diagnostic(file, line, 1, "the file is not UTF-8 text")]) from None
    doc = yamlload.loads(text, file)
    _check_root(doc)
    return doc, digest


def _check_choice(doc: yamlload.LoadedYaml, names: list[str], env: str | None) -> None:
    """A manifest with environments needs one chosen, and only one of its own."""
    if env is None and not names:
        return
    if env is not None and env in names:
        return
    pos = doc.key_position(("environments",))
    if env is None:
        message = (
            f"the manifest has environments ({', '.join(names)}); choose one with "
            "--env NAME (or FLOWPLAN_ENV)"
        )
    elif not names:
        message = f"--env {env}: the manifest has no environments: section"
    else:
        message = f"--env {env}: no such environment; the manifest has {', '.join(names)}"
    raise ManifestError([Diagnostic(doc.file, pos.line, pos.col, message)])


def _check(
    doc: yamlload.LoadedYaml, env: str | None, digest: str, path: Path
) -> tuple[Manifest | None, list[Diagnostic]]:
    """The manifest for one environment and every problem found in it."""
    with yamlload.collector_paused():  # the checks below build only acyclic records
        diagnostics = schema_diagnostics(doc)
        checker = SemanticChecker(doc, variables(doc, env))
        connections = checker.build()
        sections = check_sections(doc.data, checker)
        checker.finish()
    diagnostics += checker.diagnostics + _sandbox_problems(doc, env)
    if diagnostics:
        return None, diagnostics
    data: dict[str, Any] = doc.data
    environment = (data.get("environments") or {}).get(env) if env is not None else None
    chosen: dict[str, Any] = environment if isinstance(environment, dict) else {}
    return (
        Manifest(
            path=path,
            sandbox=chosen.get("sandbox", data.get("sandbox")),
            connections=connections,
            digest=digest,
            environment=env,
            state_location=data.get("state"),
            env_state_location=chosen.get("state"),
            references=checker.references(),
            sections=sections,
            moved=tuple(
                (str(m["from"]), str(m["to"]))
                for m in data.get("moved") or ()
                if isinstance(m, dict)
            ),
        ),
        [],
    )


def _sandbox_problems(doc: yamlload.LoadedYaml, env: str | None) -> list[Diagnostic]:
    if env is None or "sandbox" not in doc.data:
        return []
    pos = doc.key_position(("sandbox",))
    message = (
        "sandbox: with environments, each environment names its own sandbox; "
        "remove the top-level sandbox"
    )
    return [Diagnostic(doc.file, pos.line, pos.col, message)]


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
