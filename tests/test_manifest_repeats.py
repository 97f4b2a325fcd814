"""A value repeated across connections and sections: the semantic checks work once per distinct
text, yet each use keeps its own role, its own problems and its own place in the messages."""

from __future__ import annotations

import pytest
from conftest import hubspot_manifest

from flowplan.errors import ManifestError
from flowplan.manifest import loader as manifest
from flowplan.references.template import Ref, Template


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ManifestError) as info:
        manifest.loads(text.encode(), "m.yaml")
    return [(d.line, d.message) for d in info.value.diagnostics]


def test_the_same_text_is_a_secret_only_where_the_param_is_secret() -> None:
    text = hubspot_manifest("A", "B").replace(
        "clientId: ${env:HS_CLIENT_ID}", "clientId: ${env:HS_CLIENT_ID_X}", 1
    )
    text = text.replace("${env:HS_CLIENT_SECRET}", "${env:HS_CLIENT_ID_X}", 1)
    found = problems(text)
    assert found == [
        (
            9,
            "connections.a.auth.params.clientId: ${env:HS_CLIENT_ID_X} is also used by the "
            "secret param connections.a.auth.params.clientSecret: a non-secret field, shown in "
            "plans and stored in the state, cannot use it",
        )
    ]


def test_every_plain_use_of_a_secret_is_reported_and_names_the_first_secret() -> None:
    text = hubspot_manifest("A", "B", "C").replace(
        "clientId: ${env:HS_CLIENT_ID}", "clientId: ${env:HS_ACCESS_TOKEN}"
    )
    found = problems(text)
    assert [line for line, _ in found] == [9, 18, 27]
    assert all(
        message.endswith(
            "${env:HS_ACCESS_TOKEN} is also used by the secret param "
            "connections.a.auth.params.accessToken: a non-secret field, shown in plans and "
            "stored in the state, cannot use it"
        )
        for _, message in found
    )
    assert [message.split(":")[0] for _, message in found] == [
        "connections.a.auth.params.clientId",
        "connections.b.auth.params.clientId",
        "connections.c.auth.params.clientId",
    ]


def test_a_refused_secret_text_is_reported_at_every_use() -> None:
    text = hubspot_manifest("A", "B").replace("${env:HS_REFRESH_TOKEN}", "pre-${env:RT}")
    found = problems(text)
    assert [line for line, _ in found] == [12, 21]
    assert all("not text around a reference" in message for _, message in found)


def test_repeated_values_build_equal_records_and_references_in_first_use_order() -> None:
    m = manifest.loads(hubspot_manifest("A", "B", "C").encode(), "m.yaml")
    a, c = m.connections["a"], m.connections["c"]
    assert a.params == c.params
    for conn in (a, c):
        client_id, secret = conn.params["clientId"], conn.params["clientSecret"]
        assert isinstance(client_id, Template)
        assert isinstance(secret, Template)
        assert (client_id.secret, secret.secret) == (False, True)
    assert (a.name.raw, c.name.raw) == ("A", "C")
    assert m.references == tuple(
        Ref("env", name)
        for name in ("HS_CLIENT_ID", "HS_CLIENT_SECRET", "HS_ACCESS_TOKEN", "HS_REFRESH_TOKEN")
    )


def test_a_text_with_a_var_is_expanded_for_each_environment() -> None:
    text = hubspot_manifest("A", "B").replace("sandbox: prod\n", "") + (
        "environments:\n"
        "  dev: {sandbox: dev, vars: {secret: '${env:DEV_SECRET}'}}\n"
        "  prod: {sandbox: prod, vars: {secret: '${env:PROD_SECRET}'}}\n"
    )
    text = text.replace("${env:HS_CLIENT_SECRET}", "${var:secret}")
    found = manifest.loads_all(text.encode(), "m.yaml")
    for env in ("dev", "prod"):
        for key in ("a", "b"):
            secret = found[env].connections[key].params["clientSecret"]
            assert isinstance(secret, Template)
            assert secret.secret
            assert secret.raw == f"${{env:{env.upper()}_SECRET}}"


def test_pipeline_references_among_many_entries() -> None:
    count = 300
    text = hubspot_manifest("A") + "sources:\n"
    text += "".join(
        f"  src-{i}:\n    connection: {'a' if i else 'aa'}\n    name: s{i}\n    object: o\n"
        for i in range(count)
    )
    text += "dataflows:\n"
    text += "".join(
        f"  flow-{i}:\n    name: f{i}\n    source: {f'src-{i}' if i else 'x'}\n"
        "    target: t\n    mapping: m\n    deltaColumn: {name: d}\n"
        "    schedule: {frequency: hour, start: '2030-01-01T00:00:00Z'}\n"
        for i in range(count)
    )
    text += "targets:\n  t: {name: t, dataset: d, schema: s}\n"
    text += "mappings:\n  m: {schema: s, fields: [{source: a, destination: b}]}\n"
    messages = [message for _, message in problems(text)]
    assert messages == [
        "sources.src-0.connection: no connection 'aa' in connections (did you mean 'a'?)",
        "dataflows.flow-0.source: no source 'x' in sources",
    ]


def test_section_values_keep_their_text_unless_a_reference_is_expanded() -> None:
    text = hubspot_manifest("A") + (
        "vars: {table: Hubspot.Contacts}\n"
        "sources:\n"
        "  s:\n"
        "    connection: a\n"
        "    name: costs $5 and $${env:NOT_A_REF}\n"
        "    object: ${var:table}\n"
        "mappings:\n"
        "  m:\n"
        "    schema: s\n"
        "    fields: [{source: a, destination: b}, {source: '${var:table}', destination: c}]\n"
    )
    sections = manifest.loads(text.encode(), "m.yaml").sections
    source = sections["sources"]["s"]
    assert (source["name"], source["object"]) == (
        "costs $5 and $${env:NOT_A_REF}",
        "Hubspot.Contacts",
    )
    fields = sections["mappings"]["m"]["fields"]
    assert [(f["source"], f["destination"]) for f in fields] == [
        ("a", "b"),
        ("Hubspot.Contacts", "c"),
    ]
