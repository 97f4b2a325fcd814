"""The emulator's pipelines (sources, targets, mapping sets, dataflows, runs), driven with plain
requests through the rules of Adobe's documents (shared/docs/pipelines-api.md)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from conftest import HUBSPOT_SPEC, ORG
from jsonschema import Draft7Validator
from test_emulator import ETAG, H, call, create

from flowplan.emulator import Emulator, Fault
from flowplan.emulator.runs import MAX_RUNS_PER_FLOW

DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
SCHEMA = "https://ns.adobe.com/acme/schemas/1a2b3c"
HOUR = 3600


def post(emu: Emulator, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    response = call(emu, "POST", path, headers, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(f"{path}/{response.json()['id']}")
    assert re.match(ETAG, response.json()["etag"])
    return response.json()


def source_body(base_id: str, name: str = "HubSpot contacts") -> dict[str, Any]:
    return {
        "name": name,
        "description": "Contacts table",
        "baseConnectionId": base_id,
        "data": {"format": "tabular"},
        "params": {"path": "Hubspot.Contacts"},
        "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
    }


def target_body(name: str = "Contacts in the lake") -> dict[str, Any]:
    return {
        "name": name,
        "data": {
            "schema": {"id": SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"}
        },
        "params": {"dataSetId": "6511f0c1a4b2c300296b0b55"},
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
    }


MAPPING_BODY = {
    "version": 0,
    "xdmSchema": SCHEMA,
    "xdmVersion": "1.0",
    "mappings": [
        {"sourceType": "ATTRIBUTE", "source": "email", "destination": "personalEmail.address"},
        {
            "sourceType": "EXPRESSION",
            "source": "concat(firstname, ' ', lastname)",
            "destination": "person.name.fullName",
        },
    ],
}


def mapping(emu: Emulator, body: dict[str, Any] = MAPPING_BODY) -> dict[str, Any]:
    response = requests.post(emu.conversion_url + "/mappingSets", headers=H, json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert "Location" not in response.headers
    assert "etag" not in response.json()
    return dict(response.json())


def flow_body(
    source_id: str, target_id: str, mapping_id: str | None = None, **schedule: Any
) -> dict[str, Any]:
    transformations: list[dict[str, Any]] = [
        {"name": "Copy", "params": {"deltaColumn": {"name": "lastmodifieddate"}}}
    ]
    if mapping_id:
        transformations.append(
            {"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}}
        )
    return {
        "name": "HubSpot contacts hourly",
        "flowSpec": {"id": CRM_FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source_id],
        "targetConnectionIds": [target_id],
        "transformations": transformations,
        "scheduleParams": {
            "startTime": str(int(time.time()) + HOUR),
            "frequency": "hour",
            "interval": 1,
            **schedule,
        },
    }


def pipeline(emu: Emulator, **schedule: Any) -> dict[str, str]:
    base = create(emu, name="HubSpot marketing")["id"]
    source = post(emu, "/sourceConnections", source_body(base))["id"]
    target = post(emu, "/targetConnections", target_body())["id"]
    mapping_id = mapping(emu)["id"]
    flow = post(emu, "/flows", flow_body(source, target, mapping_id, **schedule))
    return {
        "base": base,
        "source": source,
        "target": target,
        "mapping": mapping_id,
        "flow": flow["id"],
        "etag": flow["etag"],
    }


def problem(response: requests.Response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    if code:
        assert body["type"].endswith(f"-{code}-{status}"), body
    return str(body["errorMessage"])


# --- sources and targets --------------------------------------------------------------------


def test_source_and_target_round_trip(emulator: Emulator) -> None:
    ids = pipeline(emulator)
    (source,) = call(emulator, "GET", f"/sourceConnections/{ids['source']}").json()["items"]
    assert source["baseConnectionId"] == ids["base"]
    assert source["connectionSpec"] == {"id": HUBSPOT_SPEC, "version": "1.0"}
    assert source["params"] == {"path": "Hubspot.Contacts"}
    assert source["version"] == source["etag"]
    (target,) = call(emulator, "GET", f"/targetConnections/{ids['target']}").json()["items"]
    assert target["data"]["format"] == "parquet_xdm"  # filled in
    assert target["params"]["dataSetId"] == "6511f0c1a4b2c300296b0b55"
    listed = call(
        emulator,
        "GET",
        "/sourceConnections",
        params={"property": f"baseConnectionId=={ids['base']}"},
    ).json()
    assert [s["id"] for s in listed["items"]] == [ids["source"]]
    assert listed["_links"] == {}
    by_name = call(emulator, "GET", "/targetConnections", params={"property": "name==nope"})
    assert by_name.json()["items"] == []


def test_source_rules(emulator: Emulator) -> None:
    base = create(emulator)["id"]
    for drop in ("name", "data", "connectionSpec"):
        body = {k: v for k, v in source_body(base).items() if k != drop}
        assert call(emulator, "POST", "/sourceConnections", json=body).status_code == 400, drop
    missing_base = source_body("00000000-0000-0000-0000-000000000000")
    assert "was not found" in problem(
        call(emulator, "POST", "/sourceConnections", json=missing_base), 400
    )
    salesforce = {
        **source_body(base),
        "connectionSpec": {"id": "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5", "version": "1.0"},
    }
    message = problem(call(emulator, "POST", "/sourceConnections", json=salesforce), 400, "1413")
    assert "base connection" in message
    dev = {**H, "x-sandbox-name": "dev"}  # the base connection is in prod only
    assert (
        call(emulator, "POST", "/sourceConnections", dev, json=source_body(base)).status_code == 400
    )


def test_target_rules(emulator: Emulator) -> None:
    no_dataset = {**target_body(), "params": {}}
    problem(call(emulator, "POST", "/targetConnections", json=no_dataset), 400)
    other_spec = {**target_body(), "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"}}
    problem(call(emulator, "POST", "/targetConnections", json=other_spec), 400, "1413")
    no_schema = {**target_body(), "data": {"format": "parquet_xdm"}}
    problem(call(emulator, "POST", "/targetConnections", json=no_schema), 400)


def test_source_and_target_patch(emulator: Emulator) -> None:
    ids = pipeline(emulator)
    path = f"/sourceConnections/{ids['source']}"
    (source,) = call(emulator, "GET", path).json()["items"]
    ops = [{"op": "replace", "path": "/name", "value": "renamed"}]
    problem(call(emulator, "PATCH", path, json=ops), 400, "1403")
    problem(call(emulator, "PATCH", path, {**H, "If-Match": '"stale"'}, json=ops), 412, "1404")
    params = [{"op": "replace", "path": "/params/path", "value": "Hubspot.Deals"}]
    problem(call(emulator, "PATCH", path, {**H, "If-Match": source["etag"]}, json=params), 400)
    ok = call(emulator, "PATCH", path, {**H, "If-Match": source["etag"]}, json=ops)
    assert ok.status_code == 200
    assert set(ok.json()) == {"id", "etag"}
    assert call(emulator, "GET", path).json()["items"][0]["name"] == "renamed"


# --- referential rules ----------------------------------------------------------------------


def test_what_a_flow_uses_cannot_be_deleted(emulator: Emulator) -> None:
    ids = pipeline(emulator)
    for path in (
        f"/connections/{ids['base']}",
        f"/sourceConnections/{ids['source']}",
        f"/targetConnections/{ids['target']}",
    ):
        message = problem(call(emulator, "DELETE", path), 400, "1418")
        assert "HubSpot contacts hourly" in message
        assert ids["flow"] in message
    assert call(emulator, "DELETE", f"/flows/{ids['flow']}").status_code == 204
    assert call(emulator, "GET", f"/flows/{ids['flow']}").status_code == 404
    for path in (
        f"/sourceConnections/{ids['source']}",
        f"/targetConnections/{ids['target']}",
        f"/connections/{ids['base']}",
    ):
        assert call(emulator, "DELETE", path).status_code == 204, path


def test_flow_references_must_exist_and_fit_the_flow_spec(emulator: Emulator) -> None:
    ids = pipeline(emulator)
    nowhere = "00000000-0000-0000-0000-000000000000"
    for body in (
        flow_body(nowhere, ids["target"]),
        flow_body(ids["source"], nowhere),
        flow_body(ids["source"], ids["target"], mapping_id="f" * 32),
        {**flow_body(ids["source"], ids["target"]), "flowSpec": {"id": nowhere, "version": "1.0"}},
        {**flow_body(ids["source"], ids["target"]), "transformations": []},  # CRM: Copy needed
        {**flow_body(ids["source"], ids["target"]), "sourceConnectionIds": [ids["target"]]},
    ):
        assert call(emulator, "POST", "/flows", json=body).status_code == 400, body
    version_one = flow_body(ids["source"], ids["target"], ids["mapping"])
    version_one["transformations"][1]["params"]["mappingVersion"] = 1
    message = problem(call(emulator, "POST", "/flows", json=version_one), 400)
    assert "version 1" in message


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ({"frequency": "once", "interval": None}, True),
        ({"frequency": "once"}, False),  # interval refused with once
        ({"frequency": "minute", "interval": 14}, False),
        ({"frequency": "minute", "interval": 15}, True),
        ({"frequency": "month"}, False),
        ({"frequency": "day", "interval": 0}, False),
        ({"frequency": "week", "interval": "2"}, True),
    ],
)
def test_schedule_rules(emulator: Emulator, schedule: dict[str, Any], ok: bool) -> None:
    base = create(emulator)["id"]
    source = post(emulator, "/sourceConnections", source_body(base))["id"]
    target = post(emulator, "/targetConnections", target_body())["id"]
    body = flow_body(source, target)
    body["scheduleParams"].update(schedule)
    body["scheduleParams"] = {k: v for k, v in body["scheduleParams"].items() if v is not None}
    response = call(emulator, "POST", "/flows", json=body)
    assert response.status_code == (201 if ok else 400), response.text


# --- flows ----------------------------------------------------------------------------------


def test_flow_read_patch_and_actions(emulator: Emulator) -> None:
    ids = pipeline(emulator)
    path = f"/flows/{ids['flow']}"
    (flow,) = call(emulator, "GET", path).json()["items"]
    assert flow["state"] == "enabled"
    assert flow["scheduleParams"]["backfill"] is True  # filled in from the flow spec's default
    assert isinstance(flow["scheduleParams"]["startTime"], int)  # sent as a string
    base = flow["inheritedAttributes"]["sourceConnections"][0]["baseConnection"]
    assert base["id"] == ids["base"]
    ops = [
        {"op": "replace", "path": "/name", "value": "daily"},
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
    ]
    problem(call(emulator, "PATCH", path, json=ops), 400, "1403")
    problem(call(emulator, "PATCH", path, {**H, "If-Match": '"x"'}, json=ops), 412, "1404")
    spec_op = [{"op": "replace", "path": "/flowSpec", "value": {}}]
    problem(call(emulator, "PATCH", path, {**H, "If-Match": ids["etag"]}, json=spec_op), 400)
    ok = call(emulator, "PATCH", path, {**H, "If-Match": ids["etag"]}, json=ops)
    assert ok.status_code == 200
    assert set(ok.json()) == {"id", "etag"}
    disable = call(emulator, "POST", path + "/action", params={"op": "DISABLE"})
    assert disable.status_code == 200
    assert disable.json()["etag"] != ok.json()["etag"]
    assert call(emulator, "GET", path).json()["items"][0]["state"] == "disabled"
    assert call(emulator, "POST", path + "/action", params={"op": "ENABLE"}).status_code == 200
    assert call(emulator, "POST", path + "/action", params={"op": "SHRED"}).status_code == 400
    listed = call(
        emulator, "GET", "/flows", params={"property": f"flowSpec.id=={CRM_FLOW_SPEC}"}
    ).json()
    assert [f["id"] for f in listed["items"]] == [ids["flow"]]


def test_start_time_that_has_passed_cannot_change() -> None:
    with Emulator() as emu:
        ids = pipeline(emu)
        path = f"/flows/{ids['flow']}"
        later = [{"op": "replace", "path": "/scheduleParams/startTime", "value": 2_000_000_000}]
        ok = call(emu, "PATCH", path, {**H, "If-Match": ids["etag"]}, json=later)
        assert ok.status_code == 200  # not passed yet: allowed
        emu.advance(2_000_000_000 - time.time() + 10)
        again = [{"op": "replace", "path": "/scheduleParams/startTime", "value": 2_100_000_000}]
        refused = call(emu, "PATCH", path, {**H, "If-Match": ok.json()["etag"]}, json=again)
        assert "startTime" in problem(refused, 400)
        interval = [{"op": "replace", "path": "/scheduleParams/interval", "value": 2}]
        allowed = call(emu, "PATCH", path, {**H, "If-Match": ok.json()["etag"]}, json=interval)
        assert allowed.status_code == 200


def test_flow_specs(emulator: Emulator) -> None:
    (spec,) = call(emulator, "GET", f"/flowSpecs/{CRM_FLOW_SPEC}").json()["items"]
    assert spec["name"] == "CRMToAEP"
    assert HUBSPOT_SPEC in spec["sourceConnectionSpecIds"]
    assert spec["targetConnectionSpecIds"] == [DATA_LAKE]
    by_name = call(emulator, "GET", "/flowSpecs", params={"property": "name==CRMToAEP"}).json()
    assert [s["id"] for s in by_name["items"]] == [CRM_FLOW_SPEC]
    assert call(emulator, "GET", "/flowSpecs/nope").status_code == 404


# --- runs -----------------------------------------------------------------------------------


def runs_of(emu: Emulator, flow_id: str, **params: Any) -> list[dict[str, Any]]:
    response = call(emu, "GET", "/runs", params={"property": f"flowId=={flow_id}", **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_runs_follow_the_schedule_and_the_state() -> None:
    with Emulator() as emu:
        ids = pipeline(emu)
        assert runs_of(emu, ids["flow"]) == []  # starts in an hour
        emu.advance(HOUR + 3 * HOUR + 600)  # the start, then three more intervals
        runs = runs_of(emu, ids["flow"], limit=100)
        assert len(runs) == 4
        run = runs[0]
        assert run["flowId"] == ids["flow"]
        assert run["metrics"]["statusSummary"]["status"] == "success"
        records = run["metrics"]["recordSummary"]
        assert records["inputRecordCount"] == (
            records["outputRecordCount"] + records["failedRecordCount"]
        )
        duration = run["metrics"]["durationSummary"]
        assert duration["completedAtUTC"] > duration["startedAtUTC"]
        (again,) = call(emu, "GET", f"/runs/{run['id']}").json()["items"]
        assert again == run
        path = f"/flows/{ids['flow']}/action"
        assert call(emu, "POST", path, params={"op": "DISABLE"}).status_code == 200
        emu.advance(5 * HOUR)
        assert len(runs_of(emu, ids["flow"], limit=100)) == 4  # none while disabled
        assert call(emu, "POST", path, params={"op": "ENABLE"}).status_code == 200
        emu.advance(2 * HOUR)
        assert len(runs_of(emu, ids["flow"], limit=100)) == 6
        other = pipeline(emu)
        assert {r["flowId"] for r in runs_of(emu, other["flow"])} <= {other["flow"]}
        assert call(emu, "DELETE", f"/flows/{ids['flow']}").status_code == 204
        assert call(emu, "GET", f"/runs/{run['id']}").status_code == 404


def test_time_scale_and_bounded_runs() -> None:
    with Emulator(time_scale=3600.0) as emu:  # an hour a second
        ids = pipeline(emu, frequency="minute", interval=15, startTime=str(int(time.time()) - 60))
        time.sleep(1.1)
        assert len(runs_of(emu, ids["flow"], limit=100)) >= 4
        emu.advance(365 * 24 * HOUR)
        everything: list[str] = []
        query = {"property": f"flowId=={ids['flow']}", "limit": 100}
        body = call(emu, "GET", "/runs", params=query).json()
        everything += [r["id"] for r in body["items"]]
        while body["_links"].get("next"):
            href = body["_links"]["next"]["href"]
            body = requests.get(emu.flow_url + href, headers=H, params=query, timeout=10).json()
            everything += [r["id"] for r in body["items"]]
        assert len(everything) == len(set(everything)) == MAX_RUNS_PER_FLOW


# --- mapping sets ---------------------------------------------------------------------------


def test_mapping_sets_in_data_preps_shapes(emulator: Emulator) -> None:
    url = emulator.conversion_url + "/mappingSets"
    created = mapping(emulator)
    assert set(created) >= {"id", "version"}
    assert created["version"] == 0
    got = requests.get(f"{url}/{created['id']}", headers=H, timeout=10).json()
    assert "items" not in got
    assert got["id"] == created["id"]
    attribute, expression = got["mappings"]
    assert attribute["sourceType"] == "text/x.schema-path"
    assert attribute["source"] == "email"
    assert attribute["destination"] == "personalEmail.address"
    assert expression["sourceType"] == "EXPRESSION"
    assert got["xdmSchema"] == SCHEMA
    put = requests.put(
        f"{url}/{created['id']}",
        headers=H,
        json={**MAPPING_BODY, "mappings": MAPPING_BODY["mappings"][:1]},
        timeout=10,
    )
    assert put.status_code == 200
    assert put.json()["version"] == 1
    old = requests.get(f"{url}/{created['id']}", headers=H, params={"version": 0}, timeout=10)
    assert len(old.json()["mappings"]) == 2
    assert (
        len(requests.get(f"{url}/{created['id']}", headers=H, timeout=10).json()["mappings"]) == 1
    )
    assert requests.delete(f"{url}/{created['id']}", headers=H, timeout=10).status_code == 405
    for _ in range(3):
        mapping(emulator)
    page = requests.get(url, headers=H, params={"start": 1, "limit": 2}, timeout=10).json()
    assert set(page) == {"data", "_page"}
    assert len(page["data"]) == 2
    assert page["_page"]["limit"] == 2
    assert requests.post(url, headers=H, json={"mappings": []}, timeout=10).status_code == 400
    missing = requests.get(f"{url}/{'0' * 32}", headers=H, timeout=10)
    assert missing.status_code == 404
    assert "CONV-" in missing.json()["type"]
    dev = requests.get(f"{url}/{created['id']}", headers={**H, "x-sandbox-name": "dev"}, timeout=10)
    assert dev.status_code == 404


# --- the same headers, faults and paging as connections --------------------------------------


def test_pipelines_share_headers_sandboxes_faults_and_paging(emulator: Emulator) -> None:
    ids = pipeline(emulator)
    no_key = {k: v for k, v in H.items() if k != "x-api-key"}
    for path in ("/flows", "/sourceConnections", "/targetConnections", "/runs", "/flowSpecs"):
        assert call(emulator, "GET", path, no_key).json()["error_code"] == "403000"
        assert call(emulator, "GET", path, {**H, "x-sandbox-name": "nope"}).status_code == 404
    dev = {**H, "x-sandbox-name": "dev"}
    assert call(emulator, "GET", f"/flows/{ids['flow']}", dev).status_code == 404
    assert call(emulator, "GET", "/flows", dev).json()["items"] == []
    emulator.push_fault(Fault("status", status=503, path_contains="/flows"))
    assert call(emulator, "GET", "/flows").status_code == 503
    emulator.push_fault(Fault("status", status=429, retry_after=1, path_contains="mappingSets"))
    limited = requests.get(emulator.conversion_url + "/mappingSets", headers=H, timeout=10)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    for i in range(4):
        post(emulator, "/targetConnections", target_body(f"t{i}"))
    query = {"limit": 2, "property": "params.dataSetId==6511f0c1a4b2c300296b0b55"}
    first = call(emulator, "GET", "/targetConnections", params=query).json()
    href = first["_links"]["next"]["href"]
    assert re.fullmatch(r"/targetConnections\?continuationToken=[A-Za-z0-9_-]+", href)
    dropped = requests.get(emulator.flow_url + href, headers=H, timeout=10)
    assert "continuationToken" in problem(dropped, 400)
    kept = requests.get(emulator.flow_url + href, headers=H, params=query, timeout=10)
    assert kept.status_code == 200
    assert len(kept.json()["items"]) == 2


# --- Adobe's OpenAPI: routes and response shapes --------------------------------------------

OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "reference" / "flow-service.openapi.yaml"


@pytest.mark.skipif(not OPENAPI.exists(), reason="shared/reference not beside the checkout")
def test_pipeline_answers_match_adobes_openapi(emulator: Emulator) -> None:
    doc = yaml.safe_load(OPENAPI.read_text())
    paths, schemas = doc["paths"], doc["components"]["schemas"]

    def check(body: Any, name: str, item: str | None = None) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        # Where the DTOs contradict the rest of Adobe's documents, the emulator follows the
        # others: scheduleParams.interval and mappingVersion are numbers in the flow spec's
        # scheduleSpec and every tutorial (the emulator echoes what was sent), and a flow
        # spec's transformationSpecs is a list (Copy, Mapping) in the tutorials' lookups.
        conflicts = (["interval"], ["mappingVersion"], ["transformationSpecs"])
        errors = [
            e.message
            for e in Draft7Validator(schema).iter_errors(body)
            if list(e.path)[-1:] not in conflicts
        ]
        assert not errors, (name, errors)
        if item:  # every field the emulator returns is one the DTO defines
            allowed = set(schemas[item]["properties"])
            for record in body["items"]:
                assert set(record) <= allowed, (item, set(record) - allowed)

    ids = pipeline(emulator)
    for path, method in [
        ("/sourceConnections", "post"),
        ("/sourceConnections/{SOURCE_CONNECTION_ID}", "patch"),
        ("/targetConnections", "post"),
        ("/targetConnections/{TARGET_CONNECTION_ID}", "delete"),
        ("/flows", "post"),
        ("/flows/{FLOW_ID}", "patch"),
        ("/flows/{FLOW_ID}/action", "post"),
        ("/flowSpecs/{FLOW_SPEC_ID}", "get"),
        ("/runs", "get"),
        ("/runs/{RUN_ID}", "get"),
    ]:
        assert method in paths[path], (path, method)
    check(
        call(emulator, "GET", "/sourceConnections").json(),
        "SourceConnectionsListResponse",
        "SourceConnectionItemDTO",
    )
    check(
        call(emulator, "GET", f"/targetConnections/{ids['target']}").json(),
        "TargetConnectionsListResponse",
        "TargetConnectionItemDTO",
    )
    check(call(emulator, "GET", "/flows").json(), "FlowListResponse", "FlowItemDTO")
    check(call(emulator, "GET", f"/flowSpecs/{CRM_FLOW_SPEC}").json(), "FlowSpecResponse")
    assert set(call(emulator, "GET", "/flowSpecs").json()["items"][0]) <= set(
        schemas["FlowSpecItemDTO"]["properties"]
    )
    emulator.advance(2 * HOUR + 600)  # two runs, both done
    runs = call(emulator, "GET", "/runs", params={"property": f"flowId=={ids['flow']}"}).json()
    assert len(runs["items"]) == 2
    check(runs, "FlowRunsListResponse", "FlowRunItemDTO")
    metrics = schemas["FlowRunItemDTO"]["properties"]["metrics"]["properties"]
    for run in runs["items"]:
        for key, value in run["metrics"].items():
            assert set(value) <= set(metrics[key]["properties"]), key
    explore = call(
        emulator, "GET", f"/connections/{ids['base']}/explore", params={"objectType": "root"}
    )
    check(explore.json(), "ExploreConnectionResponse")
    created = call(emulator, "POST", "/targetConnections", json=target_body("x")).json()
    check(created, "CreateTargetConnectionResponse")
    assert set(created) == set(schemas["CreateTargetConnectionResponse"]["properties"])
    action = call(emulator, "POST", f"/flows/{ids['flow']}/action", params={"op": "DISABLE"})
    check(action.json(), "CreateFlowResponse")
    assert ORG  # the org the helpers use


def test_the_flow_spec_must_allow_the_sources_spec(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowplan.emulator.specs import FLOW_SPECS

    base = create(emulator)["id"]
    source = post(emulator, "/sourceConnections", source_body(base))["id"]
    target = post(emulator, "/targetConnections", target_body())["id"]
    salesforce_only = ["cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"]
    monkeypatch.setitem(FLOW_SPECS[CRM_FLOW_SPEC], "sourceConnectionSpecIds", salesforce_only)
    refused = call(emulator, "POST", "/flows", json=flow_body(source, target))
    assert HUBSPOT_SPEC in problem(refused, 400)
