"""Manifest v1: schema errors located at their line, semantic checks, the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import HUBSPOT_PARAMS, ROOT, hubspot_manifest

from flowplan.errors import ManifestError
from flowplan.manifest import loader as manifest


def problems(text: str | bytes) -> list[tuple[int, str]]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(ManifestError) as info:
        manifest.loads(data, "m.yaml")
    return [(d.line, d.message) for d in info.value.diagnostics]


def test_example_is_valid() -> None:
    m = manifest.load(ROOT / "examples" / "hubspot.yaml")
    assert sorted(m.connections) == ["hubspot-marketing", "hubspot-sales"]
    conn = m.connections["hubspot-marketing"]
    assert conn.spec.id == "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
    assert conn.auth_spec_name == "Basic Authentication"
    assert conn.secret_params == {"clientSecret", "accessToken", "refreshToken"}
    assert conn.protect is True
    assert len(m.digest) == 64


def test_empty_file_and_wrong_root() -> None:
    assert "empty" in problems("")[0][1]
    assert "empty" in problems("# only a comment\n")[0][1]
    assert problems("- a\n- b\n") == [(1, "the manifest must be a mapping, not a list")]


def test_version_2() -> None:
    assert problems("version: 2\nconnections: {}\n") == [(1, "version: must be 1, got 2")]


def test_unknown_keys_are_reported_at_the_key() -> None:
    text = hubspot_manifest("A").replace(
        "    type: hubspot\n", "    type: hubspot\n    colour: x\n"
    )
    found = problems(text + "extra: 1\n")
    assert found[0] == (
        6,
        "connections.a.colour: unknown field 'colour'; allowed: auth, connectionSpec, "
        "description, name, protect, type",
    )
    assert found[1][0] == 14
    assert found[1][1].startswith("extra: unknown field 'extra'; allowed: $schema, connections")
    assert len(found) == 2


@pytest.mark.parametrize(
    ("line", "typo", "expected"),
    [
        ("    descripton: x\n", "connections.a.descripton", "description"),
        ("    protekt: true\n", "connections.a.protekt", "protect"),
    ],
)
def test_unknown_field_suggests_the_close_one(line: str, typo: str, expected: str) -> None:
    text = hubspot_manifest("A").replace("    type: hubspot\n", "    type: hubspot\n" + line)
    key = typo.rsplit(".", 1)[1]
    assert problems(text) == [(6, f"{typo}: unknown field {key!r} (did you mean {expected!r}?)")]


def test_unknown_param_and_top_level_key_suggest_too() -> None:
    text = hubspot_manifest("A").replace("clientId:", "clientid:").replace("sandbox:", "sandbx:")
    found = problems(text)
    assert (2, "sandbx: unknown field 'sandbx' (did you mean 'sandbox'?)") in found
    assert (
        9,
        "connections.a.auth.params.clientid: unknown param 'clientid' (did you mean 'clientId'?)",
    ) in found


def test_wrong_types() -> None:
    text = (
        hubspot_manifest("A")
        .replace("name: A", "name: [1]")
        .replace("type: hubspot", "type: hubspot\n    protect: maybe")
    )
    found = problems(text)
    assert (6, "connections.a.protect: expected true or false, got string 'maybe'") in found
    assert (7, "connections.a.name: expected a string, got a list [1]") in found


def test_duplicate_keys_in_manifest() -> None:
    text = hubspot_manifest("A", "B").replace("  b:\n", "  a:\n")
    assert problems(text) == [(13, "duplicate key 'a' (first at line 4)")]


@pytest.mark.parametrize("key", ["Upper", "-dash", "a" * 64, "sp ace", "ünï"])
def test_bad_key_names(key: str) -> None:
    text = hubspot_manifest("A").replace("  a:\n", f"  {key!r}:\n".replace("'", '"'))
    found = problems(text)
    assert found[0][0] == 4
    assert "must match" in found[0][1]


def test_all_errors_are_reported_sorted() -> None:
    text = """version: 1
connections:
  one:
    type: hubspot
    name: One
    auth:
      specName: OAuth
      params: {clientId: x}
  two:
    type: hubspot
    name: Two
    auth:
      params:
        clientId: ${env:ID}
        clientSecret: hunter2
        accessToken: pre-${env:AT}
        refreshToken: ${env:RT}
        colour: red
  three:
    type: hubspot
    connectionSpec: {id: cc6a4487-9e91-433e-a3a3-9cf6626c1806}
    name: Two
    auth: {params: {}}
"""
    found = problems(text)
    assert [line for line, _ in found] == sorted(line for line, _ in found)
    messages = "\n".join(f"{line}: {m}" for line, m in found)
    assert "7: connections.one.auth.specName: hubspot has no auth spec 'OAuth'" in messages
    assert "15: connections.two.auth.params.clientSecret: is secret" in messages
    assert "not a literal value" in messages
    assert "16: connections.two.auth.params.accessToken: is secret" in messages
    assert "18: connections.two.auth.params.colour: unknown param 'colour'" in messages
    assert "19: connections.three: give either `type` or `connectionSpec`, not both" in messages


def test_missing_required_params() -> None:
    text = hubspot_manifest("A").replace("        refreshToken: ${env:HS_REFRESH_TOKEN}\n", "")
    assert problems(text) == [(8, "connections.a.auth.params: 'refreshToken' is required")]


def test_names_unique_per_spec() -> None:
    text = hubspot_manifest("Same", "Other").replace("name: Other", "name: Same")
    assert problems(text) == [
        (
            15,
            "connections.other.name: 'Same' is also the name of connections.same (line 6); "
            "names must be unique per connection spec",
        )
    ]


def test_reference_syntax_is_checked_offline() -> None:
    text = (
        hubspot_manifest("A")
        .replace("${env:HS_CLIENT_ID}", "${keychain:x}")
        .replace("${env:HS_ACCESS_TOKEN}", "${env:1BAD}")
        .replace("${env:HS_REFRESH_TOKEN}", "${vault:no-key}")
    )
    found = problems(text)
    assert [line for line, _ in found] == [9, 11, 12]
    assert "unknown reference" in found[0][1]
    assert "environment variable name" in found[1][1]
    assert "${vault:MOUNT/PATH#KEY}" in found[2][1]


def test_file_reference_must_be_whole_value() -> None:
    text = hubspot_manifest("A").replace("name: A", "name: x-${file:name.txt}")
    assert "must be the whole value" in problems(text)[0][1]


def test_custom_connection_spec_is_accepted() -> None:
    text = """version: 1
connections:
  custom:
    connectionSpec: {id: 0E3D1B4A-1111-4a4a-8b8b-123456789abc, version: "2.0"}
    name: Custom source
    auth:
      specName: Token
      params: {token: "${env:TOKEN}", host: example.com, port: 443}
"""
    m = manifest.loads(text.encode(), "m.yaml")
    conn = m.connections["custom"]
    assert conn.spec.id == "0e3d1b4a-1111-4a4a-8b8b-123456789abc"
    assert conn.spec.version == "2.0"
    assert conn.secret_params is None
    assert conn.params["port"] == 443


def test_bad_uuid_and_salesforce_type() -> None:
    text = """version: 1
connections:
  custom:
    connectionSpec: {id: not-a-uuid}
    name: Custom
    auth: {params: {}}
  sf:
    type: salesforce
    name: SF
    auth:
      params: {username: u, password: "${env:P}", securityToken: "${env:T}"}
"""
    assert problems(text)[0][0] == 4


def test_not_utf8() -> None:
    assert problems(b"version: 1\nname: \xff\xfe\n") == [(2, "the file is not UTF-8 text")]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such manifest file"):
        manifest.load(tmp_path / "absent.yaml")


def test_ten_thousand_connections_load_without_the_strict_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The speed of a large manifest rests on the fast YAML path (the strict reader costs
    ~80 µs a connection): a valid one never reaches the strict reader. The time itself is
    measured by bench/ (`make bench`: validate of 10,000), not here."""
    from flowplan.manifest import yaml_loader

    def strict(text: str, file: str) -> None:
        raise AssertionError("read by the strict loader")

    monkeypatch.setattr(yaml_loader, "_strict", strict)
    text = "version: 1\nsandbox: prod\nconnections:\n" + "".join(
        f"  c-{i}:\n    type: hubspot\n    name: HubSpot {i}\n    auth:\n{HUBSPOT_PARAMS}"
        for i in range(10_000)
    )
    m = manifest.loads(text.encode(), "big.yaml")
    assert len(m.connections) == 10_000


def test_a_connection_with_neither_type_nor_spec_is_told_to_give_one() -> None:
    text = "version: 1\nsandbox: prod\nconnections:\n  c1:\n    name: n\n    auth: {params: {}}\n"
    assert problems(text) == [
        (4, "connections.c1: give either `type` or `connectionSpec`, one of them")
    ]
