"""The Flow Service client against the emulator: operations, paging, retries, errors, secrets."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from conftest import HUBSPOT_SPEC, ORG, hubspot_params
from connections_api import Connections

from flowplan.emulator import Emulator, Fault
from flowplan.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.settings import Settings

TOKEN = "TOKEN-VALUE-0123456789"
CLIENT_SECRET = "CLIENT-SECRET-9876543210"


def settings(emu: Emulator, **env: str) -> Settings:
    base = {
        "FLOWPLAN_ENDPOINT": emu.flow_url,
        "FLOWPLAN_IMS_ENDPOINT": emu.ims_url,
        "AEP_ACCESS_TOKEN": TOKEN,
        "AEP_API_KEY": "api-key",
        "AEP_ORG_ID": ORG,
        "AEP_SANDBOX_NAME": "prod",
        "FLOWPLAN_BACKOFF": "0",
        "FLOWPLAN_RETRIES": "3",
    }
    base.update(env)
    return Settings.from_env({k: v for k, v in base.items() if v})


def body(name: str, tag: str = "x") -> dict[str, Any]:
    return {
        "name": name,
        "auth": {"specName": "Basic Authentication", "params": hubspot_params(tag)},
        "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
    }


def posts(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "POST" and r.path.endswith("/connections"))


def test_missing_settings_are_all_named() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({})
    message = str(info.value)
    for name in ("AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ORG_ID", "AEP_SANDBOX_NAME"):
        assert name in message


def test_https_rule() -> None:
    env = {"AEP_ACCESS_TOKEN": "t", "AEP_API_KEY": "k", "AEP_ORG_ID": "o", "AEP_SANDBOX_NAME": "s"}
    with pytest.raises(ConfigError, match="only allowed on loopback"):
        Settings.from_env({**env, "FLOWPLAN_ENDPOINT": "http://example.com/x"})
    for ok in (
        "http://127.0.0.1:1/x",
        "http://localhost:1/x",
        "http://[::1]:1/x",
        "https://example.com/x",
    ):
        assert Settings.from_env({**env, "FLOWPLAN_ENDPOINT": ok}).endpoint == ok
    assert Settings.from_env(env).endpoint.startswith("https://platform.adobe.io/")


def test_operations_round_trip(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator))
    created = Connections(client).create(body("one"))
    remote = Connections(client).get(created.id)
    assert remote.attributes["name"] == "one"
    assert remote.etag == created.etag
    assert remote.attributes["connectionSpec"]["id"] == HUBSPOT_SPEC
    etag = Connections(client).patch(
        created.id, created.etag, [{"op": "replace", "path": "/name", "value": "two"}]
    )
    assert etag != created.etag
    assert Connections(client).get(created.id).attributes["name"] == "two"
    spec = client.get_connection_spec(HUBSPOT_SPEC)
    assert spec["name"] == "hubspot"
    Connections(client).delete(created.id)
    with pytest.raises(NotFoundError):
        Connections(client).get(created.id)
    headers = emulator.requests[0].headers
    assert headers["user-agent"].startswith("flowplan/")
    assert headers["x-sandbox-name"] == "prod"
    assert headers["x-gw-ims-org-id"] == ORG
    patch = next(r for r in emulator.requests if r.method == "PATCH")
    assert patch.headers["if-match"] == created.etag
    assert patch.headers["content-type"] == "application/json"


def test_paging_across_pages_and_id_filters(emulator: Emulator) -> None:
    ids = [emulator.seed(ORG, "prod", name=f"c{i}", params=hubspot_params()) for i in range(250)]
    client = FlowServiceClient(settings(emulator))
    found = Connections(client).list([f"connectionSpec.id=={HUBSPOT_SPEC}"])
    assert sorted(c.id for c in found) == sorted(ids)
    assert client.request_count == 3
    some = ids[:90]
    assert sorted(c.id for c in Connections(client).list([f"id=={','.join(some)}"])) == sorted(some)


def test_get_retries_429_honouring_retry_after(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator))
    emulator.push_fault(Fault("status", status=429, retry_after=1))
    start = time.monotonic()
    assert Connections(client).list() == []
    assert time.monotonic() - start >= 1.0
    assert [r.status for r in emulator.requests] == [429, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_get_patch_delete_retry_5xx(emulator: Emulator, status: int) -> None:
    client = FlowServiceClient(settings(emulator))
    created = Connections(client).create(body("one"))
    emulator.push_fault(Fault("status", status=status, method="GET"))
    Connections(client).get(created.id)
    emulator.push_fault(Fault("status", status=status, method="PATCH"))
    Connections(client).patch(
        created.id, created.etag, [{"op": "replace", "path": "/name", "value": "x"}]
    )
    emulator.push_fault(Fault("status", status=status, method="DELETE"))
    Connections(client).delete(created.id)
    assert [r.status for r in emulator.requests if r.fault] == [status] * 3


def test_dropped_get_is_retried(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator))
    emulator.push_fault(Fault("drop", method="GET"))
    assert Connections(client).list() == []


@pytest.mark.parametrize("status", [429, 503])
def test_post_retried_when_nothing_was_created(emulator: Emulator, status: int) -> None:
    client = FlowServiceClient(settings(emulator))
    emulator.push_fault(
        Fault("status", status=status, retry_after=1 if status == 429 else None, method="POST")
    )
    Connections(client).create(body("one"))
    assert posts(emulator) == 2
    assert len(emulator.connections(ORG, "prod")) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500),
        Fault("status", status=502),
        Fault("status", status=504),
        Fault("drop_after_write"),
    ],
)
def test_post_is_never_blindly_resent(emulator: Emulator, fault: Fault) -> None:
    client = FlowServiceClient(settings(emulator))
    emulator.push_fault(Fault(fault.kind, status=fault.status, method="POST"))
    with pytest.raises(OutcomeUnknownError, match="may or may not have happened"):
        Connections(client).create(body("one"))
    assert posts(emulator) == 1


def test_post_timeout_is_outcome_unknown_and_get_timeout_is_retried(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator, FLOWPLAN_READ_TIMEOUT="0.3"))
    emulator.push_fault(Fault("slow", delay=1.0, method="POST"))
    with pytest.raises(OutcomeUnknownError):
        Connections(client).create(body("one"))
    assert posts(emulator) == 1
    emulator.push_fault(Fault("slow", delay=1.0, method="GET"))
    assert len(Connections(client).list()) == 1


def test_token_from_ims_is_cached_and_renewed_once_on_401() -> None:
    with Emulator(strict=True) as emu:
        client = FlowServiceClient(
            settings(
                emu,
                AEP_ACCESS_TOKEN="",
                AEP_CLIENT_ID="cid",
                AEP_CLIENT_SECRET=CLIENT_SECRET,
                AEP_API_KEY="",
            )
        )
        Connections(client).list()
        Connections(client).list()
        ims = [r for r in emu.requests if r.path.endswith("/ims/token/v3")]
        assert len(ims) == 1
        assert ims[0].headers["content-type"] == "application/x-www-form-urlencoded"
        emu.config.issued_tokens.clear()  # the token expires
        Connections(client).list()
        assert len([r for r in emu.requests if r.path.endswith("/ims/token/v3")]) == 2
        flow = [r for r in emu.requests if "/connections" in r.path]
        assert flow[0].headers["x-api-key"] == "cid"


def test_error_classes_carry_code_request_id_and_advice(emulator: Emulator) -> None:
    client = FlowServiceClient(settings(emulator, FLOWPLAN_RETRIES="1"))
    with pytest.raises(NotFoundError) as nf:
        Connections(client).get("00000000-0000-0000-0000-000000000000")
    assert nf.value.code == "1101-404"
    assert nf.value.request_id
    assert "does not exist in this sandbox" in str(nf.value)
    created = Connections(client).create(body("one"))
    with pytest.raises(ConflictError, match="changed by someone else"):
        Connections(client).patch(
            created.id, '"stale"', [{"op": "replace", "path": "/name", "value": "x"}]
        )
    bad = body("two")
    bad["connectionSpec"]["id"] = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(RejectedError) as rejected:
        Connections(client).create(bad)
    assert rejected.value.code == "1413-400"
    emulator.push_fault(*[Fault("status", status=429, retry_after=0)] * 3)
    with pytest.raises(RateLimitedError, match="lower --parallelism"):
        Connections(client).list()
    emulator.clear_faults()
    emulator.push_fault(*[Fault("status", status=503)] * 3)
    with pytest.raises(ServerError, match="try again later"):
        Connections(client).list()
    emulator.clear_faults()
    emulator.push_fault(Fault("status", status=403))
    with pytest.raises(AuthError, match="not allowed"):
        Connections(client).list()


def test_invalid_token_and_unreachable_endpoint() -> None:
    with Emulator(strict=True) as emu:
        client = FlowServiceClient(settings(emu))
        with pytest.raises(AuthError, match="invalid or expired") as info:
            Connections(client).list()
        assert info.value.code == "401013"
        port = emu.base_url.rsplit(":", 1)[1]
    client = FlowServiceClient(
        settings(emu, FLOWPLAN_ENDPOINT=f"http://127.0.0.1:{port}/x", FLOWPLAN_RETRIES="0")
    )
    with pytest.raises(NetworkError, match="refused"):
        Connections(client).list()


def test_no_secret_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with Emulator(strict=True) as emu:
        client = FlowServiceClient(
            settings(emu, AEP_ACCESS_TOKEN="", AEP_CLIENT_ID="cid", AEP_CLIENT_SECRET=CLIENT_SECRET)
        )
        created = Connections(client).create(body("one", tag="leak"))
        for fault in (Fault("status", status=500, method="POST"), Fault("drop_after_write")):
            emu.push_fault(fault)
            try:
                Connections(client).create(body("two", tag="leak"))
            except Exception as exc:
                texts.append(str(exc))
                texts.append(repr(exc))
        try:
            Connections(client).patch(
                created.id,
                '"stale"',
                [{"op": "replace", "path": "/auth/params", "value": hubspot_params("leak")}],
            )
        except ConflictError as exc:
            texts.append(str(exc))
        bad = body("three", tag="leak")
        bad["auth"]["params"]["clientSecret"] = 12345  # type: ignore[index]
        try:
            Connections(client).create(bad)
        except RejectedError as exc:
            texts.append(str(exc))
        texts.append(repr(client.settings))
    everything = "\n".join(texts) + caplog.text
    assert "POST /connections" in caplog.text  # --debug logging did happen
    for secret in (
        CLIENT_SECRET,
        *[v for k, v in hubspot_params("leak").items() if k != "clientId"],
    ):
        assert secret not in everything
    for token in emu.config.issued_tokens:
        assert token not in everything


def test_an_api_message_quoting_a_secret_is_scrubbed(
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    """If the API ever echoed a value it was sent, the user would still not see it."""
    from conftest import hubspot_manifest

    from flowplan.cli import main
    from flowplan.emulator import store

    secret = "CANARY-echoed-secret-42"

    def echoing_create(self: store.FlowStore, caller: Any, body: Any) -> Any:
        params = body["auth"]["params"]
        raise store.bad_request("1406", f"rejected {params['clientSecret']}")

    monkeypatch.setattr(store.FlowStore, "create", echoing_create)
    for key, value in {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": TOKEN,
        "AEP_API_KEY": "k",
        "AEP_ORG_ID": ORG,
        "HS_CLIENT_ID": "c",
        "HS_CLIENT_SECRET": secret,
        "HS_ACCESS_TOKEN": "at-value",
        "HS_REFRESH_TOKEN": "rt-value",
    }.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest("Alpha"))
    assert main(["--debug", "apply", "-f", str(path), "--auto-approve"]) == 1
    out, err = capsys.readouterr()
    assert "rejected (sensitive value)" in err
    assert secret not in out + err
