"""The published schema: well-formed, documented, strict, shipped, and both validators agree."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator

from flowplan.flowservice.catalog import BUILTIN_TYPES
from flowplan.manifest import schema_check
from flowplan.manifest.schema_files import load_schema

SCHEMA = load_schema("manifest.schema.json")


def forbids_only(schema: dict[str, Any]) -> bool:
    """`{"properties": {"x": false}}`: a rule that a field is absent, not an object."""
    return (
        all(prop is False for prop in schema.get("properties", {}).values())
        and "type" not in schema
    )


def walk(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(schema, dict):
        is_object = schema.get("type") == "object" or "properties" in schema
        if is_object and not forbids_only(schema):
            found.append((path, schema))
        for key, value in schema.items():
            found += walk(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found += walk(value, f"{path}/{i}")
    return found


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_property_has_title_and_description() -> None:
    for path, obj in walk(SCHEMA):
        for name, prop in obj.get("properties", {}).items():
            assert prop.get("title"), f"{path}/{name}"
            assert prop.get("description"), f"{path}/{name}"


def test_objects_are_closed() -> None:
    for path, obj in walk(SCHEMA):
        if "properties" in obj:
            assert obj.get("additionalProperties") is False, path


def test_type_enum_matches_builtin_types() -> None:
    enum = SCHEMA["$defs"]["connection"]["properties"]["type"]["enum"]
    assert sorted(enum) == sorted(BUILTIN_TYPES)


def test_the_compiled_validator_is_generated_from_the_current_schema() -> None:
    """Run `python -m flowplan.manifest.schema_files` after changing the schema."""
    from flowplan.manifest import compiled_schema, schema_files

    assert schema_files.schema_digest() == compiled_schema.SCHEMA_SHA256
    current = schema_files.COMPILED.read_text(encoding="utf-8")
    import fastjsonschema

    if f'VERSION = "{fastjsonschema.VERSION}"' in current:  # the same generator: the same code
        assert schema_files.compiled_source() == current


def test_a_schema_changed_since_generation_is_compiled_at_run_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flowplan.manifest import compiled_schema

    monkeypatch.setattr(compiled_schema, "SCHEMA_SHA256", "stale")
    schema_check._fast_validator.cache_clear()
    try:
        assert schema_check._fast_valid({"version": 1, "connections": {}})
        assert not schema_check._fast_valid({"version": 2, "connections": {}})
    finally:
        schema_check._fast_validator.cache_clear()


def test_source_and_packaged_schema_are_one_file() -> None:
    assert (ROOT / "schemas" / "manifest.schema.json").is_file()


INVALID = [
    {"version": 1},
    {"version": 1, "connections": {"A": {}}},
    {"version": 1, "connections": [], "sandbox": "x"},
    {"version": 1, "connections": {"a": {"type": "hubspot", "name": "", "auth": {"params": {}}}}},
    {"version": 1, "connections": {"a": {"name": "n", "auth": {"params": {}}}}},
    {"version": 1, "connections": {"a": {"type": "x", "name": "n", "auth": {"params": {}}}}},
    {
        "version": 1,
        "connections": {
            "a": {"connectionSpec": {"id": "nope"}, "name": "n", "auth": {"params": {}}}
        },
    },
    {
        "version": 1,
        "connections": {"a": {"type": "hubspot", "name": "n", "auth": {"params": {"p": [1]}}}},
    },
    {
        "version": 1,
        "connections": {
            "a": {"type": "hubspot", "name": "n", "protect": 1, "auth": {"params": {}}}
        },
    },
    {"version": "1", "connections": {}},
    {"version": 1, "connections": {}, "sandbox": "Prod"},
    # The fast validator is compiled for the sections present: the rest stays closed.
    {"version": 1, "connections": {}, "sourcez": {}},
    {"version": 1, "connections": {}, 7: {}},
    {"version": 1, "connections": {}, "sources": {"s": {"name": "n", "object": "o"}}},
    {"version": 1, "connections": {}, "dataflows": {"d": {"name": "n"}}},
    {"version": 1, "connections": {}, "environments": {"dev": {"sandbox": 3}}},
    {"version": 1, "connections": {}, "moved": [{"from": "connection.a"}]},
]


@pytest.mark.parametrize("doc", INVALID)
def test_fast_and_full_validators_agree_on_invalid(doc: dict[str, Any]) -> None:
    assert not schema_check._fast_valid(doc)
    assert list(Draft202012Validator(SCHEMA).iter_errors(doc))


def test_fast_and_full_validators_agree_on_valid() -> None:
    doc = {
        "version": 1,
        "sandbox": "prod",
        "connections": {
            "a": {
                "connectionSpec": {"id": "cc6a4487-9e91-433e-a3a3-9cf6626c1806", "version": "1.0"},
                "name": "n",
                "description": "d",
                "protect": True,
                "auth": {"specName": "x", "params": {"p": "v", "n": 1, "b": False}},
            }
        },
    }
    assert schema_check._fast_valid(doc)
    assert not list(Draft202012Validator(SCHEMA).iter_errors(doc))


def test_plain_install_ships_the_schema(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("flowplan-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = json.loads(zf.read("flowplan/schemas/manifest.schema.json"))
    assert shipped == SCHEMA
