"""The generic client API against the emulator: Flow Service and Data Prep, real sockets."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import HUBSPOT_SPEC, ORG, hubspot_params
from test_client import body, settings

from flowplan.emulator import Emulator
from flowplan.errors import NotFoundError
from flowplan.flowservice.client import FlowServiceClient

HUBSPOT_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
SCHEMA = "https://ns.adobe.com/acme/schemas/1a2b3c"


def mapping_set(*sources: str) -> dict[str, Any]:
    return {
        "version": 0,
        "xdmSchema": SCHEMA,
        "xdmVersion": "1.0",
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": s, "destination": f"person.{s}"} for s in sources
        ],
    }


def test_connections_through_the_generic_calls(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator))
    created = client.create("connections", body("one"))
    assert created.etag
    assert created.body["id"] == created.id
    fetched = client.get("connections", created.id)
    assert (fetched.body["name"], fetched.etag) == ("one", created.etag)
    etag = client.patch(
        "connections", created.id, created.etag, [{"op": "replace", "path": "/name", "value": "2"}]
    )
    assert etag != created.etag
    assert [c["name"] for c in client.list("connections", [f"id=={created.id}"])] == ["2"]
    client.delete("connections", created.id)
    with pytest.raises(NotFoundError):
        client.get("connections", created.id)


def test_filtered_listing_over_many_pages_of_a_strict_service(emulator: Emulator) -> None:
    """The emulator's next links hold only the token, and it refuses a page query that differs
    from the first page's: a client dropping its filters on page 2 fails here."""
    mine = []
    for i in range(230):
        mine.append(emulator.seed(ORG, "prod", name=f"c{i}", params=hubspot_params()))
        emulator.seed(
            ORG,
            "prod",
            name=f"s{i}",
            params={"username": "u", "password": "p", "securityToken": "t"},
            type_name="salesforce",
        )
    client = FlowServiceClient(settings(emulator))
    found = client.list("connections", [f"connectionSpec.id=={HUBSPOT_SPEC}"])
    assert sorted(f["id"] for f in found) == sorted(mine)
    assert client.request_count == 3
    pages = [r for r in emulator.requests if r.method == "GET"]
    assert [r.status for r in pages] == [200, 200, 200]


def test_mapping_sets_on_data_prep(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator))
    assert client.settings.conversion_endpoint.endswith("/data/foundation/conversion")
    created = client.create("mappingSets", mapping_set("email"), service="conversion")
    assert created.etag is None
    assert created.body["version"] == 0
    fetched = client.get("mappingSets", created.id, service="conversion")
    assert fetched.body["id"] == created.id
    assert [m["source"] for m in fetched.body["mappings"]] == ["email"]
    answer = client.put("mappingSets", created.id, mapping_set("email", "phone"))
    assert answer["id"] == created.id
    assert any(m["id"] == created.id for m in client.list("mappingSets", service="conversion"))
    paths = {r.path for r in emulator.requests}
    assert paths == {
        "/data/foundation/conversion/mappingSets",
        f"/data/foundation/conversion/mappingSets/{created.id}",
    }


def test_specs(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator))
    assert client.get_connection_spec(HUBSPOT_SPEC)["name"] == "hubspot"
    assert client.get_flow_spec(HUBSPOT_FLOW_SPEC)["id"] == HUBSPOT_FLOW_SPEC
    with pytest.raises(NotFoundError, match="flow spec"):
        client.get_flow_spec("00000000-0000-0000-0000-00000000dead")
