"""Adobe's own Python SDK, aepp, against the emulator (skipped when aepp is not installed).

`make test` installs aepp 0.6.0 with --no-deps plus requests, deprecation and tenacity, as
the emulator issue prescribes; its other dependencies are not needed for FlowService."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import HUBSPOT_SPEC, hubspot_params

from flowplan.emulator import Emulator

aepp = pytest.importorskip("aepp")

ORG = "AEPP0000000000000000000@AdobeOrg"


@pytest.mark.filterwarnings("ignore")
def test_aepp_creates_pages_gets_patches_and_deletes() -> None:
    from aepp import configs, flowservice

    with Emulator(strict=True) as emu:
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
