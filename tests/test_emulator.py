"""The emulator, driven with plain requests through every rule of the API documents."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from conftest import HUBSPOT_SPEC, ORG, hubspot_params

from flowplan.emulator import Emulator, Fault

H = {
    "Authorization": "Bearer token",
    "x-api-key": "key",
    "x-gw-ims-org-id": ORG,
    "x-sandbox-name": "prod",
}
SEED_BODY = {  # the HubSpot tutorial's request, verbatim
    "name": "connection for HubSpot",
    "description": "connection for HubSpot",
    "auth": {
        "specName": "Basic Authentication",
        "params": {
            "clientId": "{CLIENT_ID}",
            "clientSecret": "{CLIENT_SECRET}",
            "accessToken": "{ACCESS_TOKEN}",
            "refreshToken": "{REFRESH_TOKEN}",
        },
    },
    "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
}
ETAG = r'^"[0-9a-f]{8}-0000-0200-0000-[0-9a-f]{8}0000"$'


def call(
    emu: Emulator, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> requests.Response:
    return requests.request(
        method, emu.flow_url + path, headers=H if headers is None else headers, timeout=10, **kwargs
    )


def create(emu: Emulator, name: str = "n", sandbox: str = "prod") -> dict[str, Any]:
    body = {**SEED_BODY, "name": name}
    response = call(emu, "POST", "/connections", {**H, "x-sandbox-name": sandbox}, json=body)
    assert response.status_code == 201
    return dict(response.json())


def test_tutorial_request_creates(emulator: Emulator) -> None:
    response = call(emulator, "POST", "/connections", json=SEED_BODY)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "etag"}
    assert response.headers["Location"].endswith(f"/connections/{body['id']}")
    import re

    assert re.match(ETAG, body["etag"])


@pytest.mark.parametrize(
    ("drop", "replace", "status", "code"),
    [
        ("Authorization", None, 403, "403010"),
        (None, ("Authorization", "Basic abc"), 401, "401013"),
        ("x-api-key", None, 403, "403000"),
        ("x-gw-ims-org-id", None, 400, "400003"),
    ],
)
def test_gateway_header_rules(
    emulator: Emulator, drop: str | None, replace: tuple[str, str] | None, status: int, code: str
) -> None:
    headers = {k: v for k, v in H.items() if k != drop}
    if replace:
        headers[replace[0]] = replace[1]
    response = call(emulator, "GET", "/connections", headers)
    assert response.status_code == status
    assert response.json()["error_code"] == code


def test_missing_sandbox_and_content_type(emulator: Emulator) -> None:
    no_sandbox = {k: v for k, v in H.items() if k != "x-sandbox-name"}
    response = call(emulator, "GET", "/connections", no_sandbox)
    assert response.status_code == 400
    assert response.json()["type"].endswith("FLOW-2105-400")
    response = call(
        emulator, "POST", "/connections", {**H, "Content-Type": "text/plain"}, data=b"{}"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "A valid content-type must be specified"


def test_sandboxes_are_isolated(emulator: Emulator) -> None:
    conn = create(emulator, sandbox="dev")
    assert call(emulator, "GET", f"/connections/{conn['id']}").status_code == 404
    assert call(emulator, "GET", "/connections").json()["items"] == []
    dev = {**H, "x-sandbox-name": "dev"}
    assert call(emulator, "GET", f"/connections/{conn['id']}", dev).status_code == 200


def test_create_validation(emulator: Emulator) -> None:
    bad_spec = {**SEED_BODY, "connectionSpec": {"id": "00000000-0000-0000-0000-000000000000"}}
    assert call(emulator, "POST", "/connections", json=bad_spec).json()["type"].endswith("1413-400")
    bad_auth = {**SEED_BODY, "auth": {"specName": "OAuth", "params": {}}}
    assert call(emulator, "POST", "/connections", json=bad_auth).json()["type"].endswith("1415-400")
    missing = {
        **SEED_BODY,
        "auth": {"specName": "Basic Authentication", "params": {"clientId": "x"}},
    }
    response = call(emulator, "POST", "/connections", json=missing)
    assert response.status_code == 400
    assert "required" in response.json()["errorMessage"]
    empty = call(emulator, "POST", "/connections", {**H, "Content-Type": "application/json"})
    assert empty.json()["type"].endswith("1405-400")


def test_read_shape_and_masked_secrets(emulator: Emulator) -> None:
    conn = create(emulator)
    body = call(emulator, "GET", f"/connections/{conn['id']}").json()
    (item,) = body["items"]
    for field in (
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxName",
        "imsOrgId",
        "state",
        "sandboxId",
    ):
        assert field in item
    assert item["version"] == item["etag"] == conn["etag"]
    assert item["createdAt"] > 1_600_000_000_000  # epoch milliseconds
    params = item["auth"]["params"]
    assert params["clientId"] == "{CLIENT_ID}"
    for secret in ("clientSecret", "accessToken", "refreshToken"):
        assert params[secret] != SEED_BODY["auth"]["params"][secret]  # type: ignore[index]
    assert emulator.stored(ORG, "prod", conn["id"])["auth"]["params"]["clientSecret"] == (
        "{CLIENT_SECRET}"
    )


def test_paging_newest_first_with_token_only_next(emulator: Emulator) -> None:
    ids = [create(emulator, name=f"c{i}")["id"] for i in range(7)]
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 3}
    response = call(emulator, "GET", "/connections", params=query)
    while True:
        body = response.json()
        seen += [i["id"] for i in body["items"]]
        href = body["_links"].get("next", {}).get("href")
        if not href:
            break
        path, _, token = href.partition("?")
        assert path == "/connections"
        assert token.startswith("continuationToken=")
        assert "&" not in token  # only the token
        response = requests.get(emulator.flow_url + href, headers=H, params=query, timeout=10)
    assert seen == list(reversed(ids))


def test_limit_is_capped_at_100(emulator: Emulator) -> None:
    for i in range(105):
        emulator.seed(ORG, "prod", name=f"s{i}", params=hubspot_params())
    body = call(emulator, "GET", "/connections", params={"limit": 500}).json()
    assert len(body["items"]) == 100
    assert "next" in body["_links"]


def test_filters_count_and_orderby(emulator: Emulator) -> None:
    a, b, c = (create(emulator, name=n)["id"] for n in ("alpha one", "beta", "gamma"))

    def names(**params: Any) -> list[str]:
        return [
            i["name"] for i in call(emulator, "GET", "/connections", params=params).json()["items"]
        ]

    assert names(property="name==alpha one") == ["alpha one"]
    assert names(property='name=="beta"') == ["beta"]
    assert sorted(names(property=f"id=={a},{c}")) == ["alpha one", "gamma"]
    assert len(names(property=f"connectionSpec.id=={HUBSPOT_SPEC}")) == 3
    assert len(names(property="state==enabled")) == 3
    assert names(property=[f"id=={a},{b}", "name==beta"]) == ["beta"]
    assert names(orderby="name") == ["alpha one", "beta", "gamma"]
    assert names(orderby="-name") == ["gamma", "beta", "alpha one"]
    assert call(emulator, "GET", "/connections", params={"count": "true"}).json() == {"count": 3}
    both = call(emulator, "GET", "/connections", params={"count": "true", "limit": 5})
    assert both.json()["type"].endswith("1401-400")
    assert call(emulator, "GET", "/connections", params={"orderby": "colour"}).status_code == 400


def test_patch_rules(emulator: Emulator) -> None:
    conn = create(emulator)
    path = f"/connections/{conn['id']}"
    ops = [{"op": "Replace", "path": "/name", "value": "renamed"}]
    no_match = call(emulator, "PATCH", path, json=ops)
    assert (no_match.status_code, no_match.json()["type"][-8:]) == (400, "1403-400")
    stale = call(emulator, "PATCH", path, {**H, "If-Match": '"stale"'}, json=ops)
    assert (stale.status_code, stale.json()["type"][-8:]) == (412, "1404-412")
    spec = [{"op": "replace", "path": "/connectionSpec", "value": {}}]
    assert (
        call(emulator, "PATCH", path, {**H, "If-Match": conn["etag"]}, json=spec)
        .json()["type"]
        .endswith("1414-400")
    )
    move = [{"op": "move", "from": "/name", "path": "/description"}]
    assert (
        call(emulator, "PATCH", path, {**H, "If-Match": conn["etag"]}, json=move)
        .json()["type"]
        .endswith("1434-400")
    )
    ok = call(
        emulator,
        "PATCH",
        path + "/",
        {**H, "If-Match": conn["etag"]},
        json=[
            *ops,
            {"op": "REMOVE", "path": "/description"},
            {"op": "add", "path": "/auth/params", "value": hubspot_params("new")},
        ],
    )
    assert ok.status_code == 200
    assert set(ok.json()) == {"id", "etag"}
    assert ok.json()["etag"] != conn["etag"]
    stored = emulator.stored(ORG, "prod", conn["id"])
    assert stored["name"] == "renamed"
    assert "description" not in stored
    assert stored["auth"]["params"] == hubspot_params("new")
    assert stored["version"] == stored["etag"] == ok.json()["etag"]


def test_delete_then_404(emulator: Emulator) -> None:
    conn = create(emulator)
    response = call(emulator, "DELETE", f"/connections/{conn['id']}/")
    assert (response.status_code, response.content) == (204, b"")
    gone = call(emulator, "GET", f"/connections/{conn['id']}")
    assert gone.status_code == 404
    problem = gone.json()
    assert set(problem) >= {"type", "title", "status", "report", "errorMessage", "errorDetails"}
    assert call(emulator, "DELETE", f"/connections/{conn['id']}").status_code == 404


def test_connection_specs_and_test(emulator: Emulator) -> None:
    specs = call(emulator, "GET", "/connectionSpecs").json()["items"]
    hubspot = next(s for s in specs if s["id"] == HUBSPOT_SPEC)
    props = hubspot["authSpec"][0]["spec"]["properties"]
    assert props["clientSecret"]["format"] == "password"
    assert "format" not in props["clientId"]
    one = call(emulator, "GET", f"/connectionSpecs/{HUBSPOT_SPEC}").json()["items"]
    assert one[0]["name"] == "hubspot"
    assert (
        call(emulator, "GET", "/connectionSpecs", params={"property": 'name=="hubspot"'}).json()[
            "items"
        ][0]["id"]
        == HUBSPOT_SPEC
    )
    conn = create(emulator)
    assert call(emulator, "GET", f"/connections/{conn['id']}/test").json() == {"result": True}


def test_ims_and_strict_mode() -> None:
    with Emulator(strict=True) as emu:
        form = {
            "grant_type": "client_credentials",
            "client_id": "id",
            "client_secret": "s",
            "scope": "openid",
        }
        token = requests.post(emu.ims_url, data=form, timeout=10).json()
        assert token["token_type"] == "bearer"
        assert token["expires_in"] == 86399
        assert call(emu, "GET", "/connections").json()["error_code"] == "401013"
        ok = call(
            emu, "GET", "/connections", {**H, "Authorization": f"Bearer {token['access_token']}"}
        )
        assert ok.status_code == 200
        bad = requests.post(emu.ims_url, data={**form, "client_secret": ""}, timeout=10)
        assert bad.status_code == 401


def test_faults(emulator: Emulator) -> None:
    emulator.push_fault(Fault("status", status=429, retry_after=2))
    limited = call(emulator, "GET", "/connections")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    emulator.push_fault(Fault("drop_after_write", method="POST"))
    with pytest.raises(requests.ConnectionError):
        call(emulator, "POST", "/connections", json=SEED_BODY)
    assert len(emulator.connections(ORG, "prod")) == 1  # the write happened
    emulator.push_fault(Fault("slow", delay=1.0))
    with pytest.raises(requests.Timeout):
        requests.get(emulator.flow_url + "/connections", headers=H, timeout=0.3)


def test_latency_and_fail_rate() -> None:
    with Emulator(latency_ms=50) as emu:
        start = time.monotonic()
        call(emu, "GET", "/connections")
        assert time.monotonic() - start >= 0.05
    with Emulator(fail_rate=1.0, seed=1) as emu:
        statuses = set()
        for _ in range(10):
            try:
                statuses.add(call(emu, "GET", "/connections").status_code)
            except requests.ConnectionError:
                statuses.add(0)
        assert 200 not in statuses


def test_latency_counts_the_work_done_inside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """--latency-ms is the time from request to answer. The emulator's own work (one process,
    one GIL: here a lock around 40 ms of it) happens inside it, so requests sent together are
    answered together, not one after another behind it."""
    from flowplan.emulator import routes

    one_at_a_time = threading.Lock()
    real = routes.flow_service

    def slow_service(backend: Any, request: Any) -> Any:
        with one_at_a_time:
            time.sleep(0.04)
            return real(backend, request)

    monkeypatch.setattr(routes, "flow_service", slow_service)
    with Emulator(latency_ms=300) as emu:
        call(emu, "GET", "/connections")  # connections made, nothing cold

        def timed(_: int) -> float:
            start = time.monotonic()
            assert call(emu, "GET", "/connections").status_code == 200
            return time.monotonic() - start

        with ThreadPoolExecutor(4) as pool:
            times = list(pool.map(timed, range(4)))
    assert min(times) >= 0.3
    # work after the wait: the last answer at 300 + 4 x 40 ms
    assert max(times) < 0.3 + 0.12, times


OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "reference" / "flow-service.openapi.yaml"


@pytest.mark.skipif(not OPENAPI.exists(), reason="shared/reference not beside the checkout")
def test_routes_and_shapes_exist_in_adobes_openapi(emulator: Emulator) -> None:
    doc = yaml.safe_load(OPENAPI.read_text())
    paths = doc["paths"]
    routes = {
        ("/connections", "get"),
        ("/connections", "post"),
        ("/connections/{BASE_CONNECTION_ID}", "get"),
        ("/connections/{BASE_CONNECTION_ID}/", "patch"),
        ("/connections/{BASE_CONNECTION_ID}/", "delete"),
        ("/connections/{BASE_CONNECTION_ID}/test", "get"),
        ("/connectionSpecs", "get"),
        ("/connectionSpecs/{CONNECTION_SPEC_ID}", "get"),
    }
    for path, method in routes:
        assert method in paths[path], (path, method)
    schemas = doc["components"]["schemas"]
    created = create(emulator)
    assert set(created) <= set(schemas["CreateConnectionResponse"]["properties"])
    (item,) = call(emulator, "GET", f"/connections/{created['id']}").json()["items"]
    allowed = set(schemas["ConnectionItemDTO"]["properties"])
    assert set(item) - allowed <= {"sandboxId"}, set(item) - allowed
    spec = call(emulator, "GET", f"/connectionSpecs/{HUBSPOT_SPEC}").json()["items"][0]
    assert set(spec) <= set(schemas["ConnectionSpecItemDTO"]["properties"])
    assert set(paths["/connections"]["get"]["responses"]) >= {"200"}
    assert "201" in paths["/connections"]["post"]["responses"]
    assert "204" in paths["/connections/{BASE_CONNECTION_ID}/"]["delete"]["responses"]


def test_a_long_running_emulator_does_not_grow() -> None:
    from flowplan.emulator.store import MAX_CACHED_LISTINGS

    with Emulator(record_requests=False) as emu:
        conn = create(emu)
        for i in range(MAX_CACHED_LISTINGS + 20):
            call(emu, "GET", "/connections", params={"property": f"name==n{i}"})
            call(emu, "GET", "/connections", params={"property": f"id=={conn['id']},x{i}"})
        assert emu.requests == []
        assert len(emu.store._listing) <= MAX_CACHED_LISTINGS
