"""Pipelines end to end through the real CLI and the emulator: sources, targets, mapping sets
and dataflows created, updated, replaced (the chain), deleted in reverse order, adopted,
refused when a dataflow outside the manifest uses them, their runs, and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import HUBSPOT_PARAMS, ORG, cli_env, run

from flowplan.emulator import Emulator

SECRETS = {
    "HS_CLIENT_SECRET": "CANARY-pl-cs-31a",
    "HS_ACCESS_TOKEN": "CANARY-pl-at-8c2",
    "HS_REFRESH_TOKEN": "CANARY-pl-rt-d07",
}
SCHEMA = "https://ns.adobe.com/acme/schemas/1a2b3c"


def pipeline(
    *,
    obj: str = "Hubspot.Contacts",
    dataset: str = "6511f0c1a4b2c300296b0b55",
    interval: int = 1,
    destination: str = "personalEmail.address",
    start: str = "2030-01-01T00:00:00Z",
    enabled: bool = True,
    flow_name: str = "HubSpot contacts hourly",
    with_flow: bool = True,
) -> str:
    text = f"""version: 1
sandbox: prod
connections:
  hs:
    type: hubspot
    name: HubSpot marketing
    auth:
{HUBSPOT_PARAMS.rstrip()}
sources:
  contacts:
    connection: hs
    name: HubSpot contacts
    object: {obj}
targets:
  lake:
    name: Contacts in the lake
    dataset: {dataset}
    schema: {SCHEMA}
mappings:
  map:
    schema: {SCHEMA}
    fields:
      - {{source: email, destination: {destination}}}
      - {{source: "concat(firstname, ' ', lastname)", destination: person.name.fullName, \
type: expression}}
"""
    if with_flow:
        text += f"""dataflows:
  hourly:
    name: {flow_name}
    source: contacts
    target: lake
    mapping: map
    deltaColumn: {{name: lastmodifieddate, dateFormat: YYYY-MM-DD, timezone: UTC}}
    schedule: {{frequency: hour, interval: {interval}, start: "{start}", backfill: true}}
    enabled: {str(enabled).lower()}
"""
    return text


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return cli_env(emulator, monkeypatch, "TOKEN-pl-canary", SECRETS)


def plan_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    code, out, err = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def actions(doc: dict[str, Any]) -> dict[str, str]:
    return {c["address"]: c["action"] for c in doc["changes"] if c["action"] != "no-op"}


def apply(capsys: pytest.CaptureFixture[str], path: Path) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "apply", "-f", str(path), "--auto-approve", "--format", "json")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def resources(emu: Emulator, kind: str) -> list[dict[str, Any]]:
    return emu.resources(kind, ORG, "prod")


def test_create_then_nothing_to_do(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    assert actions(plan_json(capsys, path)) == {
        "connection.hs": "create",
        "source.contacts": "create",
        "target.lake": "create",
        "mapping.map": "create",
        "dataflow.hourly": "create",
    }
    events = [e for e in apply(capsys, path) if e["type"] == "change"]
    order = [e["address"] for e in events]
    assert order.index("dataflow.hourly") == len(order) - 1  # after all it references
    assert order.index("connection.hs") < order.index("source.contacts")
    (flow,) = resources(emulator, "flows")
    (source,) = resources(emulator, "sourceConnections")
    (target,) = resources(emulator, "targetConnections")
    assert flow["sourceConnectionIds"] == [source["id"]]
    assert flow["targetConnectionIds"] == [target["id"]]
    assert source["params"]["path"] == "Hubspot.Contacts"  # HubSpot names its table in path
    assert actions(plan_json(capsys, path)) == {}  # semantic comparison: nothing left
    state = json.loads(path.with_suffix(".state.json").read_text())
    assert state["version"] == 2
    assert state["dataflows"]["hourly"]["sourceConnectionIds"] == [source["id"]]
    assert sorted(state["dataflows"]["hourly"]["requires"]) == [
        "mapping.map",
        "source.contacts",
        "target.lake",
    ]
    text = path.with_suffix(".state.json").read_text()
    assert not any(secret in text for secret in SECRETS.values())


def test_schedule_and_mapping_changes_are_in_place(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    apply(capsys, path)
    (flow_before,) = resources(emulator, "flows")
    path.write_text(pipeline(interval=3, destination="workEmail.address"))
    doc = plan_json(capsys, path)
    assert actions(doc) == {"mapping.map": "update", "dataflow.hourly": "update"}
    flow_change = next(c for c in doc["changes"] if c["address"] == "dataflow.hourly")
    fields = {f["field"] for f in flow_change["changed_fields"]}
    assert {"scheduleParams.interval", "transformations[1].params.mappingVersion"} <= fields
    apply(capsys, path)
    (flow,) = resources(emulator, "flows")
    assert flow["id"] == flow_before["id"]  # patched, not re-created
    assert flow["scheduleParams"]["interval"] == 3
    mapping = next(t for t in flow["transformations"] if t["name"] == "Mapping")
    assert int(mapping["params"]["mappingVersion"]) == 1
    assert actions(plan_json(capsys, path)) == {}


def test_disable_goes_through_the_flow_action(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    apply(capsys, path)
    path.write_text(pipeline(enabled=False))
    assert actions(plan_json(capsys, path)) == {"dataflow.hourly": "update"}
    apply(capsys, path)
    (flow,) = resources(emulator, "flows")
    assert flow["state"] == "disabled"
    assert actions(plan_json(capsys, path)) == {}


def test_source_change_replaces_the_chain_dataflow_deleted_first(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    apply(capsys, path)
    (old_flow,) = resources(emulator, "flows")
    path.write_text(pipeline(obj="Hubspot.Companies"))
    doc = plan_json(capsys, path)
    assert actions(doc) == {"source.contacts": "replace", "dataflow.hourly": "replace"}
    assert doc["summary"]["replace"] == 2
    _, text, _ = run(capsys, "plan", "-f", str(path))
    assert "source.contacts gets a new id" in text  # the reason is shown
    apply(capsys, path)
    (flow,) = resources(emulator, "flows")
    assert flow["id"] != old_flow["id"]
    assert len(resources(emulator, "sourceConnections")) == 1
    assert actions(plan_json(capsys, path)) == {}


def test_target_change_replaces_target_and_dataflow(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    apply(capsys, path)
    path.write_text(pipeline(dataset="7777f0c1a4b2c300296b0b55"))
    assert actions(plan_json(capsys, path)) == {
        "target.lake": "replace",
        "dataflow.hourly": "replace",
    }
    apply(capsys, path)
    (target,) = resources(emulator, "targetConnections")
    assert target["params"]["dataSetId"] == "7777f0c1a4b2c300296b0b55"


def test_removing_everything_deletes_in_reverse_order(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    apply(capsys, path)
    code, out, err = run(capsys, "destroy", "-f", str(path), "--auto-approve", "--format", "json")
    assert code == 0, err
    order = [json.loads(line)["address"] for line in out.splitlines() if '"change"' in line]
    assert order[0] == "dataflow.hourly"  # it uses the others
    assert order.index("dataflow.hourly") < order.index("target.lake")
    assert order.index("source.contacts") < order.index("connection.hs")  # the source uses it
    for kind in ("flows", "sourceConnections", "targetConnections", "connections"):
        assert resources(emulator, kind) == [], kind


def test_a_dataflow_outside_the_manifest_blocks_the_delete(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline(with_flow=False))
    apply(capsys, path)
    (source,) = resources(emulator, "sourceConnections")
    (target,) = resources(emulator, "targetConnections")
    import requests

    headers = {
        "Authorization": "Bearer t",
        "x-api-key": "k",
        "x-gw-ims-org-id": ORG,
        "x-sandbox-name": "prod",
    }
    body = {
        "name": "Someone else's flow",
        "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
        "sourceConnectionIds": [source["id"]],
        "targetConnectionIds": [target["id"]],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "x"}}}],
        "scheduleParams": {"startTime": "1893456000", "frequency": "hour", "interval": 1},
    }
    answer = requests.post(f"{emulator.flow_url}/flows", json=body, headers=headers, timeout=10)
    assert answer.status_code == 201, answer.text
    path.write_text(pipeline(obj="Hubspot.Companies", with_flow=False))
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert code == 1
    assert "Someone else's flow" in err
    assert answer.json()["id"] in err
    assert len(resources(emulator, "sourceConnections")) == 1  # nothing was touched


def test_adoption_by_name_for_every_kind(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline())
    apply(capsys, path)
    path.with_suffix(".state.json").unlink()  # the state is lost; the sandbox is not
    doc = plan_json(capsys, path)
    assert set(actions(doc).values()) == {"adopt"}  # the mapping set comes with its dataflow
    assert len(actions(doc)) == 5
    apply(capsys, path)
    assert actions(plan_json(capsys, path)) == {}
    assert len(resources(emulator, "flows")) == 1
    assert len(resources(emulator, "sourceConnections")) == 1
    assert len(resources(emulator, "targetConnections")) == 1


def test_runs_of_managed_dataflows(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline(start="2020-01-01T00:00:00Z"))
    apply(capsys, path)
    emulator.advance(3 * 3600)
    code, out, err = run(capsys, "runs", "-f", str(path), "--format", "json")
    assert code == 0, err
    from flowplan.manifest.schema_files import validator

    validator("runs.schema.json").validate(json.loads(out))
    rows = json.loads(out)["runs"]
    assert rows, "a run appears for each scheduled interval"
    assert {r["address"] for r in rows} == {"dataflow.hourly"}
    assert all(r["status"] for r in rows)
    code, text, _ = run(capsys, "runs", "-f", str(path), "--last", "2")
    assert code == 0
    assert text.count("dataflow.hourly") == 2


def test_a_passed_start_time_cannot_change(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline(start="2020-01-01T00:00:00Z"))
    apply(capsys, path)
    path.write_text(pipeline(start="2021-01-01T00:00:00Z"))
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert code == 1
    assert "scheduleParams.startTime cannot change" in err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("source: contacts", "source: contacs"), "no source 'contacs' in sources (did you mean"),
        (("interval: 1,", "interval: 1, frequency: once,"), None),
        (("frequency: hour, interval: 1", "frequency: minute, interval: 5"), "less than 15"),
        (("frequency: hour, interval: 1", "frequency: minute, interval: 5.0"), "less than 15"),
        (
            (
                "    deltaColumn: {name: lastmodifieddate, dateFormat: YYYY-MM-DD, timezone: UTC}",
                "",
            ),
            "deltaColumn is required",
        ),
        (('start: "2030-01-01T00:00:00Z"', 'start: "next tuesday"'), "not a date and time"),
    ],
)
def test_validate_catches_pipeline_mistakes_with_their_line(
    write: Any, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], message: str | None
) -> None:
    text = pipeline()
    assert edit[0] in text
    path = write(text.replace(edit[0], edit[1], 1))
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert code == 1
    assert ":" in err.splitlines()[0]  # FILE:LINE:COL
    if message:
        assert message in err


def test_a_boolean_interval_gets_one_message_the_schemas(
    write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        pipeline().replace("frequency: hour, interval: 1", "frequency: minute, interval: true")
    )
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert code == 1
    assert "interval: expected an integer, got boolean True" in err
    assert "less than" not in err


def test_export_round_trip(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """export -> plan adopts every resource (no create, replace or delete); after one apply
    nothing is left to do and nothing was duplicated."""
    apply(capsys, write(pipeline()))
    monkeypatch.setenv("AEP_SANDBOX_NAME", "prod")
    code, exported, err = run(capsys, "export")
    assert code == 0, err
    assert "dataflows:" in exported
    assert "mapping: " in exported
    for name in ("HUBSPOT_MARKETING_CLIENT_SECRET", "HUBSPOT_MARKETING_ACCESS_TOKEN"):
        monkeypatch.setenv(name, "new-secret-value")
    monkeypatch.setenv("HUBSPOT_MARKETING_REFRESH_TOKEN", "new-refresh-value")
    path = write(exported, "exported/flowplan.yaml")
    assert run(capsys, "validate", "-f", str(path))[0] == 0
    doc = plan_json(capsys, path)
    assert set(actions(doc).values()) == {"adopt"}
    assert len(actions(doc)) == 5
    apply(capsys, path)
    assert actions(plan_json(capsys, path)) == {}
    for kind in ("flows", "sourceConnections", "targetConnections", "connections"):
        assert len(resources(emulator, kind)) == 1, kind


def test_an_unanswered_mapping_set_create_says_it_may_leave_an_orphan(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mapping sets have no name, so an unanswered create cannot be looked up: another is
    created, and the apply says the first may be an unused orphan."""
    from flowplan.emulator import Fault

    path = write(pipeline())
    emulator.push_fault(Fault("drop_after_write", method="POST", path_contains="mappingSets"))
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert "mapping.map" in err
    assert "unused orphan" in err
    assert actions(plan_json(capsys, path)) == {}


def test_a_missing_reference_in_a_pipeline_field_is_named_with_its_field(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipeline().replace("name: HubSpot contacts\n", "name: ${env:NO_SUCH_VAR}\n", 1))
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert code == 1
    assert "sources.contacts: name: " in err
    assert "NO_SUCH_VAR" in err


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("source: contacts", "source: [contacts]", "source: expected a string, got a list"),
        ("connection: hs", "connection: [hs]", "connection: expected a string, got a list"),
        ("sources:\n  contacts:\n", "sources: [contacts]\nunused:\n  contacts:\n", "sources:"),
    ],
)
def test_a_wrong_type_in_the_chain_of_a_dataflow_without_delta_column_is_reported(
    write: Any, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    text = pipeline()
    delta = "    deltaColumn: {name: lastmodifieddate, dateFormat: YYYY-MM-DD, timezone: UTC}\n"
    assert delta in text
    assert old in text
    path = write(text.replace(delta, "").replace(old, new, 1))
    code, _, err = run(capsys, "validate", "-f", str(path))
    assert code == 1
    assert "Traceback" not in err
    assert message in err
