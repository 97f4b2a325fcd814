"""Adobe's own Python SDK, aepp, against the emulator (skipped when aepp is not installed).

`make test` installs aepp 0.6.0 with --no-deps plus requests, deprecation and tenacity, as
the emulator issue prescribes; its other dependencies are not needed for FlowService."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import HUBSPOT_SPEC, hubspot_params

from flowplan.emulator import Emulator

aepp = pytest.importorskip("aepp")

ORG = "AEPP0000000000000000000@AdobeOrg"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"


def configure_aepp(emu: Emulator) -> None:
    """aepp pointed at the emulator, with OAuth server-to-server credentials its IMS issues a
    token for."""
    from aepp import configs

    configs.configure(
        org_id=ORG,
        client_id="aepp-client",
        secret="aepp-secret",
        scopes="openid",
        sandbox="prod",
        environment="support",
        endpoint=emu.base_url,
    )
    aepp.config.config_object["imsEndpoint"] = emu.base_url
    aepp.config.config_object["oauthTokenEndpointV2"] = emu.ims_url


@pytest.mark.filterwarnings("ignore")
def test_aepp_creates_pages_gets_patches_and_deletes() -> None:
    from aepp import flowservice

    with Emulator(strict=True) as emu:
        configure_aepp(emu)
        service = flowservice.FlowService()
        body: dict[str, Any] = {
            "name": "aepp connection",
            "auth": {"specName": "Basic Authentication", "params": hubspot_params("aepp")},
            "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
        }
        created = service.createConnection(data=body)
        assert set(created) == {"id", "etag"}
        for i in range(44):
            service.createConnection(data={**body, "name": f"aepp {i}"})
        listed = service.getConnections(limit=20, n_results="inf")
        assert len(listed) == 45
        assert len({c["id"] for c in listed}) == 45
        fetched = service.getConnection(created["id"])
        assert fetched["etag"] == created["etag"]
        patched = service.patchConnection(
            created["id"], [{"op": "replace", "path": "/name", "value": "patched by aepp"}]
        )
        assert patched["etag"] != created["etag"]
        assert emu.stored(ORG, "prod", created["id"])["name"] == "patched by aepp"
        assert service.deleteConnection(created["id"]) == 204
        assert len(emu.connections(ORG, "prod")) == 44
        ims = [r for r in emu.requests if r.path.endswith("/ims/token/v3")]
        assert ims  # aepp used the emulator's IMS, and strict mode accepted its token
        patch = next(r for r in emu.requests if r.method == "PATCH")
        assert patch.headers["if-match"] == created["etag"]


@pytest.mark.filterwarnings("ignore")
def test_aepp_builds_pages_and_deletes_a_pipeline() -> None:
    from aepp import flowservice

    with Emulator(strict=True) as emu:
        configure_aepp(emu)
        service = flowservice.FlowService()
        base = service.createConnection(
            data={
                "name": "aepp base",
                "auth": {"specName": "Basic Authentication", "params": hubspot_params("aepp")},
                "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
            }
        )
        source = service.createSourceConnection(
            data={
                "name": "aepp source",
                "baseConnectionId": base["id"],
                "data": {"format": "tabular"},
                "params": {"path": "Hubspot.Contacts"},
                "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
            }
        )
        assert set(source) == {"id", "etag"}
        target = service.createTargetConnectionDataLake(
            name="aepp target",
            datasetId="6511f0c1a4b2c300296b0b55",
            schemaId="https://ns.adobe.com/acme/schemas/1a2b3c",
        )
        assert set(target) == {"id", "etag"}
        start = int(time.time()) - 3600 * 5 - 600
        flow_ids = []
        for i in range(25):
            flow = service.createFlow(
                flow_spec_id=CRM_FLOW_SPEC,
                obj={
                    "name": f"aepp flow {i}",
                    "flowSpec": {"id": CRM_FLOW_SPEC, "version": "1.0"},
                    "sourceConnectionIds": [source["id"]],
                    "targetConnectionIds": [target["id"]],
                    "transformations": [
                        {"name": "Copy", "params": {"deltaColumn": {"name": "lastmodifieddate"}}}
                    ],
                    "scheduleParams": {"startTime": str(start), "frequency": "hour", "interval": 1},
                },
            )
            assert set(flow) == {"id", "etag"}
            flow_ids.append(flow["id"])
        flows = service.getFlows(limit=10, n_results="inf")  # pages by token, query re-sent
        assert sorted(f["id"] for f in flows) == sorted(flow_ids)
        runs = service.getRuns(limit=4, n_results="inf", prop=f"flowId=={flow_ids[0]}")
        assert len(runs) == 6  # the start and five hours since
        assert {r["flowId"] for r in runs} == {flow_ids[0]}
        assert len({r["id"] for r in runs}) == 6
        assert service.getRun(runs[0]["id"])[0]["id"] == runs[0]["id"]
        assert service.deleteFlow(flow_ids[0]) == 204
        assert len(service.getFlows(limit=100)) == 24
        pages = [r for r in emu.requests if r.path.endswith("/flows") and r.method == "GET"]
        assert len(pages) >= 3
        assert all(r.status == 200 for r in emu.requests if r.method == "GET")
