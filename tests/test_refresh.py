"""A resource that already matches the manifest but whose state entry holds an older etag (an
apply killed after its PATCH landed, or the same edit made by hand) is planned as no change,
and the next apply brings the state's etag up to date without a request, so later updates'
If-Match hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ORG, cli_env, hubspot_manifest, run

from flowplan.emulator import Emulator


def test_a_stale_etag_is_refreshed_without_a_request(
    emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    secrets = {
        "HS_CLIENT_ID": "c",
        "HS_CLIENT_SECRET": "CANARY-refresh-1",
        "HS_ACCESS_TOKEN": "CANARY-refresh-2",
        "HS_REFRESH_TOKEN": "CANARY-refresh-3",
    }
    cli_env(emulator, monkeypatch, "t", secrets)
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    state_path = path.with_suffix(".state.json")
    state = json.loads(state_path.read_text())
    (conn,) = emulator.connections(ORG, "prod")
    # What a killed apply leaves: the PATCH landed, the state still has the old record.
    state["connections"]["alpha"]["etag"] = '"stale"'
    state["connections"]["alpha"]["name"] = "Alpha before"
    state_path.write_text(json.dumps(state))
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 0, out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    refreshed = json.loads(state_path.read_text())["connections"]["alpha"]
    assert refreshed["etag"] == conn["etag"]
    assert refreshed["name"] == "Alpha"
    (after,) = emulator.connections(ORG, "prod")
    assert after["etag"] == conn["etag"]  # nothing was sent
    path.write_text(hubspot_manifest("Alpha").replace("name: Alpha", "name: Alpha 2"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0  # If-Match holds
