"""The manifests the benchmarks plan and apply: N HubSpot connections, or N whole pipelines
(connection, source, target, mapping set and dataflow each, as examples/hubspot-pipeline.yaml)."""

from __future__ import annotations

AUTH = """\
    auth:
      params:
        clientId: ${env:HS_CLIENT_ID}
        clientSecret: ${env:HS_CLIENT_SECRET}
        accessToken: ${env:HS_ACCESS_TOKEN}
        refreshToken: ${env:HS_REFRESH_TOKEN}
"""
# Credentials of HubSpot's shapes and lengths (made up), for both tools: a real secret is long
# enough to be registered for redaction, where a one-letter one is not.
HUBSPOT_CREDENTIALS = {
    "clientId": "5b3e1a9c-2f4d-4e8a-9c71-0d6f2b8a4e13",
    "clientSecret": "c8f2a7d1-6b4e-4f9a-8d3c-1e7b5a9f2c64",
    "accessToken": "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4",
    "refreshToken": "na1-3f8b-47d2-9e6a-b1c5d7e9f024-a6c3e8d1",
}
HEAD = "version: 1\nsandbox: prod\n"
KINDS_PER_PIPELINE = 5  # connection, source, target, mapping set, dataflow


def connections(n: int, prefix: str) -> str:
    parts = [HEAD, "connections:\n"]
    parts += (f"  c-{i}:\n    type: hubspot\n    name: {prefix} {i}\n{AUTH}" for i in range(n))
    return "".join(parts)


def pipelines(n: int, prefix: str) -> str:
    """N pipelines, each its own base connection, HubSpot table, dataset and mapping set."""
    parts = [HEAD, "connections:\n"]
    parts += (
        f"  hs-{i}:\n    type: hubspot\n    name: {prefix} HubSpot {i}\n{AUTH}" for i in range(n)
    )
    parts.append("sources:\n")
    parts += (
        f"  src-{i}:\n    connection: hs-{i}\n    name: {prefix} contacts {i}\n"
        "    object: Hubspot.Contacts\n"
        for i in range(n)
    )
    parts.append("targets:\n")
    parts += (
        f"  lake-{i}:\n    name: {prefix} lake {i}\n    dataset: 6511f0c1a4b2c300{i:08x}\n"
        f"    schema: https://ns.adobe.com/acme/schemas/s{i}\n"
        for i in range(n)
    )
    parts.append("mappings:\n")
    parts += (
        f"  map-{i}:\n    schema: https://ns.adobe.com/acme/schemas/s{i}\n    fields:\n"
        "      - {source: email, destination: personalEmail.address}\n"
        "      - {source: \"concat(firstname, ' ', lastname)\", "
        "destination: person.name.fullName, type: expression}\n"
        for i in range(n)
    )
    parts.append("dataflows:\n")
    parts += (
        f"  flow-{i}:\n    name: {prefix} contacts hourly {i}\n    source: src-{i}\n"
        f"    target: lake-{i}\n    mapping: map-{i}\n"
        "    deltaColumn: {name: lastmodifieddate, dateFormat: YYYY-MM-DD, timezone: UTC}\n"
        '    schedule: {frequency: hour, interval: 1, start: "2030-01-01T00:00:00Z", '
        "backfill: true}\n"
        for i in range(n)
    )
    return "".join(parts)
