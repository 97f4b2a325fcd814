"""The layout the README draws, enforced: each package imports only from layers below it (or
its own), the emulator knows nothing of the client, planner or applier, no module imports
itself back through a cycle, and no module grows past the size where it holds two jobs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flowplan"

# Lowest first. A module may import from its own layer and the ones before it.
LAYERS = [
    {"flowplan", "errors", "redact", "loopback"},
    {"references"},
    {"model"},
    {"flowservice"},
    {"manifest"},
    {"state"},
    {"kinds"},
    {"engine"},
    {"output"},
    {"cli", "__main__"},
]
EMULATOR_MAY_USE = {"errors", "flowservice.catalog", "emulator"}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, runtime_only: bool = False) -> set[str]:
    """Every flowplan module `path` imports, at the top, lazily or (unless `runtime_only`)
    for type checking."""
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flowplan"):
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("flowplan"))
    known = modules()
    return {name for name in out if name in known}


def part(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "flowplan"


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part(module) in names)


@pytest.mark.parametrize("module", sorted(m for m in modules() if part(m) != "emulator"))
def test_no_import_from_a_higher_layer(module: str) -> None:
    higher = [
        dep
        for dep in imports(modules()[module])
        if part(dep) != "emulator" and layer(dep) > layer(module)
    ]
    assert higher == [], f"{module} (layer {layer(module)}) imports {higher}"


def test_only_the_cli_starts_the_emulator() -> None:
    users = {
        m
        for m, path in modules().items()
        if part(m) != "emulator" and any(part(dep) == "emulator" for dep in imports(path))
    }
    assert users <= {"flowplan.cli.emulator", "flowplan.cli"}


@pytest.mark.parametrize("module", sorted(m for m in modules() if part(m) == "emulator"))
def test_the_emulator_knows_nothing_of_the_client_planner_or_applier(module: str) -> None:
    for dep in imports(modules()[module]):
        name = dep.removeprefix("flowplan.")
        assert any(
            name == allowed or name.startswith(f"{allowed}.") for allowed in (EMULATOR_MAY_USE)
        ), f"{module} imports {dep}"


def test_no_import_cycles_between_modules() -> None:
    graph = {m: {d for d in imports(p, runtime_only=True) if d != m} for m, p in modules().items()}
    # A package's __init__ importing its own submodules is how a package is assembled.
    for m in graph:
        graph[m] = {d for d in graph[m] if not d.startswith(f"{m}.")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*visiting, node])
        visiting.append(node)
        for dep in sorted(graph[node]):
            visit(dep)
        visiting.pop()
        done.add(node)

    for module in sorted(graph):
        visit(module)


GENERATED = {"flowplan.manifest.compiled_schema"}  # written by a program; nobody reads it


@pytest.mark.parametrize("module", sorted(set(modules()) - GENERATED))
def test_no_module_over_the_size_of_one_job(module: str) -> None:
    lines = modules()[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


@pytest.mark.parametrize("module", sorted(GENERATED))
def test_generated_modules_say_so(module: str) -> None:
    assert "# Generated from " in modules()[module].read_text(encoding="utf-8")[:300]


def test_the_emulators_dependency_is_an_extra() -> None:
    """jsonpatch serves only the emulator: not every user's dependency, and without it
    `flowplan emulator` says which extra to install."""
    import subprocess
    import sys
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("jsonpatch") for d in project["dependencies"])
    assert any(d.startswith("jsonpatch") for d in project["optional-dependencies"]["emulator"])
    code = (
        "import sys; sys.modules['jsonpatch'] = None\n"
        "from flowplan.cli import main\n"
        "raise SystemExit(main(['emulator', '--port', '0']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "pip install 'flowplan[emulator]'" in done.stderr
    assert "Traceback" not in done.stderr
