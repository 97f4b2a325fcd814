"""plan and apply end to end: the real CLI against the emulator over loopback."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, cli_env, hubspot_manifest, hubspot_params, run
from jsonschema import Draft202012Validator

from flowplan.emulator import Emulator, Fault
from flowplan.engine.changes import Action, Change, Plan
from flowplan.kinds.connection import attributes
from flowplan.manifest.schema_files import load_schema
from flowplan.output import render
from flowplan.state.file import StateStore

SECRETS = {
    "HS_CLIENT_SECRET": "CANARY-client-secret-7f3a",
    "HS_ACCESS_TOKEN": "CANARY-access-9b1c",
    "HS_REFRESH_TOKEN": "CANARY-refresh-2d4e",
}


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return cli_env(emulator, monkeypatch, "TOKEN-canary-5e6f", SECRETS)


def remote_names(emu: Emulator) -> list[str]:
    return sorted(c["name"] for c in emu.connections(ORG, "prod"))


def test_create_noop_update_adopt_delete_in_all_formats(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "+ connection.alpha will be created" in out
    assert out.rstrip().endswith("Plan: 2 to create, 0 to update, 0 to delete, 0 to adopt.")
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "json")
    doc = json.loads(out)
    Draft202012Validator(load_schema("plan.schema.json")).validate(doc)
    assert doc["summary"]["create"] == 2
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "markdown")
    assert out.startswith(f"### flowplan: `{path}` in sandbox `prod`\n\n**Plan: 2 to create")
    assert "<details>" in out
    code, out, _ = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, out
    assert "Apply complete: 2 created, 0 updated, 0 deleted, 0 adopted." in out
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
    state = json.loads(path.with_suffix(".state.json").read_text())
    assert state["serial"] >= 1
    assert set(state["connections"]) == {"alpha", "beta"}
    assert state["connections"]["alpha"]["etag"].startswith('"')

    # update: manifest edit; drift: someone renames beta; adopt: gamma exists already
    emulator.seed(ORG, "prod", name="Gamma", params=hubspot_params("gamma"))
    beta_id = state["connections"]["beta"]["id"]
    emulator.change(ORG, "prod", beta_id, lambda r: r.update(name="Beta (renamed by bob)"))
    path.write_text(
        hubspot_manifest("Alpha", "Beta", "Gamma").replace(
            "name: Alpha", "name: Alpha\n    description: now described"
        )
    )
    code, out, _ = run(capsys, "plan", "-f", str(path))
    assert "~ connection.alpha" in out
    assert '~ description: (none) -> "now described"' in out
    assert "changed outside flowplan by someone-else@AdobeID" in out
    assert 'name: "Beta" -> "Beta (renamed by bob)" (remote)' in out
    assert "<= connection.gamma" in out
    assert "Plan: 0 to create, 2 to update, 0 to delete, 1 to adopt." in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    assert remote_names(emulator) == ["Alpha", "Beta", "Gamma"]
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0

    # delete: beta leaves the manifest
    path.write_text(
        hubspot_manifest("Alpha", "Gamma").replace(
            "name: Alpha", "name: Alpha\n    description: now described"
        )
    )
    code, out, _ = run(capsys, "plan", "-f", str(path))
    assert "- connection.beta" in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    assert remote_names(emulator) == ["Alpha", "Gamma"]
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


def test_saved_plan_apply_and_stale_refusal(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    planfile = tmp_path / "out.plan"
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    assert oct(planfile.stat().st_mode & 0o777) == "0o600"
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 0, err
    assert len(emulator.connections(ORG, "prod")) == 2
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 1
    assert "stale" in err

    # a change made after review is never overwritten
    path.write_text(hubspot_manifest("Alpha", "Beta").replace("name: Alpha", "name: Alpha 2"))
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    state = json.loads(path.with_suffix(".state.json").read_text())
    emulator.change(
        ORG,
        "prod",
        state["connections"]["alpha"]["id"],
        lambda r: r.update(description="bob was here"),
    )
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 1
    assert "changed by someone-else@AdobeID since the plan was made" in err
    stored = emulator.stored(ORG, "prod", state["connections"]["alpha"]["id"])
    assert stored["name"] == "Alpha"
    assert stored["description"] == "bob was here"

    # a secret rotated since the plan makes it stale
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    os.environ["HS_ACCESS_TOKEN"] = "CANARY-rotated-0000"
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 1
    assert "secret differs" in err


def test_apply_converges_under_faults(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"Conn {i}" for i in range(12)]
    path = write(hubspot_manifest(*names))
    emulator.push_fault(
        Fault("status", status=429, retry_after=1, method="POST"),
        Fault("status", status=503, method="POST"),
        Fault("drop_after_write", method="POST"),
        Fault("status", status=500, method="POST"),
        Fault("drop_after_write", method="POST"),
        Fault("status", status=502, method="GET"),
    )
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert remote_names(emulator) == sorted(names)  # every one, none twice
    state = StateStore(path.with_suffix(".state.json")).load(ORG, "prod")
    assert {e.id for e in state.connections.values()} == {
        c["id"] for c in emulator.connections(ORG, "prod")
    }
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


def test_second_apply_is_refused_naming_the_holder(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    store = StateStore(path.with_suffix(".state.json"))
    with store.lock():
        code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 1
    assert f"locked by another apply (pid {os.getpid()}" in err
    assert emulator.connections(ORG, "prod") == []
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0


def test_errors_without_traceback(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(hubspot_manifest("Alpha"))
    monkeypatch.delenv("HS_REFRESH_TOKEN")
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert code == 1
    assert "environment variable HS_REFRESH_TOKEN is not set" in err
    monkeypatch.setenv("HS_REFRESH_TOKEN", "x")
    state_path = path.with_suffix(".state.json")
    state_path.write_text('{"version": 1, "lin')
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert (code, "not valid JSON" in err) == (1, True)
    state_path.write_text(json.dumps({"version": 9}))
    assert "newer than this flowplan" in run(capsys, "plan", "-f", str(path))[2]
    state_path.unlink()
    monkeypatch.setenv("AEP_SANDBOX_NAME", "dev")
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    other = path.with_name("other.yaml")
    other.write_text(hubspot_manifest("Alpha", sandbox="dev"))
    code, _, err = run(capsys, "plan", "-f", str(other), "--state", str(state_path))
    assert code == 1
    assert "was written for org" in err
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    code, _, err = run(capsys, "apply", "-f", str(path))  # no TTY, no --auto-approve
    assert code == 1
    assert "--auto-approve" in err


def test_no_secret_in_any_output(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    planfile = tmp_path / "p.plan"
    texts = []
    for args in (
        ("plan", "--format", "text"),
        ("plan", "--format", "markdown"),
        ("plan", "--format", "json", "--out", str(planfile)),
        ("apply", "--auto-approve", "--format", "json"),
        ("apply", "--auto-approve"),
    ):
        texts += run(capsys, "--debug", *args[:1], "-f", str(path), *args[1:])[1:]
    os.environ["HS_CLIENT_SECRET"] = "CANARY-rotated-client-secret-1111"
    texts += run(capsys, "plan", "-f", str(path))[1:]
    texts += run(capsys, "apply", "-f", str(path), "--auto-approve")[1:]
    for file in tmp_path.iterdir():
        texts.append(file.read_text(errors="replace"))
    everything = "\n".join(texts)
    assert "(sensitive value changed)" in everything
    for secret in [*SECRETS.values(), "CANARY-rotated-client-secret-1111", env["AEP_ACCESS_TOKEN"]]:
        assert secret not in everything


def test_markdown_of_5000_creates_fits_one_comment() -> None:
    attrs = attributes("cc6a4487-9e91-433e-a3a3-9cf6626c1806", "1.0", "n", "d", "Basic", {"a": "b"})
    changes = tuple(Change(f"key-{i:05d}", Action.CREATE, after=attrs) for i in range(5000))
    plan = Plan(changes, ORG, "prod", "m.yaml", "0" * 64, "l", 0, False)
    text = render.render_markdown(plan)
    assert len(text) <= 65_536
    assert text.startswith("### flowplan: `m.yaml` in sandbox `prod`\n\n**Plan: 5000 to create")
    assert "changes are not listed" in text
    assert "of 5000 changes" in text


def test_replace_and_every_action_in_json_and_markdown(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta", "Delta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    old_alpha = json.loads(path.with_suffix(".state.json").read_text())["connections"]["alpha"]
    emulator.seed(ORG, "prod", name="Gamma", params=hubspot_params("gamma"))
    monkeypatch.setenv("SF_PASSWORD", "CANARY-sf-pass")
    monkeypatch.setenv("SF_TOKEN", "CANARY-sf-token")
    salesforce = """  alpha:
    type: salesforce
    name: Alpha
    auth:
      params: {username: u, password: "${env:SF_PASSWORD}", securityToken: "${env:SF_TOKEN}"}
"""
    text = hubspot_manifest("Beta", "Gamma").replace("name: Beta", "name: Beta 2") + salesforce
    path.write_text(text)
    _, out, _ = run(capsys, "plan", "-f", str(path), "--format", "json")
    doc = json.loads(out)
    Draft202012Validator(load_schema("plan.schema.json")).validate(doc)
    actions = {c["key"]: c["action"] for c in doc["changes"]}
    assert actions == {"alpha": "replace", "beta": "update", "gamma": "adopt", "delta": "delete"}
    _, markdown, _ = run(capsys, "plan", "-f", str(path), "--format", "markdown")
    # 1.1: a replace counts as a replace, not as a delete plus a create
    assert "**Plan: 0 to create, 1 to update, 1 to replace, 1 to delete, 1 to adopt.**" in markdown
    for key in ("alpha", "beta", "gamma", "delta"):
        assert f"`connection.{key}`" in markdown
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    conns = {c["name"]: c for c in emulator.connections(ORG, "prod")}
    assert sorted(conns) == ["Alpha", "Beta 2", "Gamma"]
    assert conns["Alpha"]["id"] != old_alpha["id"]
    assert conns["Alpha"]["connectionSpec"]["id"] == "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
    assert "CANARY-sf" not in path.with_suffix(".state.json").read_text()
