"""Issue #12, review and secrets: what is applied is what was reviewed; protect; adoption of a
connection with another auth spec; the 412 and delete rechecks; keyed fingerprints.

Each test goes through the real CLI against the emulator, and was seen to fail with its rule
broken on purpose (tests/RELIABILITY.md lists how).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, hubspot_manifest, hubspot_params, run

from flowplan.emulator import Emulator, Fault
from flowplan.kinds.connection import ConnectionKind

API_KEY = "flowplan-trust"
SECRET = "CANARY-review-cs-61"


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "TOKEN-review-canary",
        "AEP_API_KEY": API_KEY,
        "AEP_ORG_ID": ORG,
        "FLOWPLAN_BACKOFF": "0",
        "NO_COLOR": "1",
        "HS_CLIENT_ID": "client-id-1",
        "HS_CLIENT_SECRET": SECRET,
        "HS_ACCESS_TOKEN": "CANARY-review-at-62",
        "HS_REFRESH_TOKEN": "CANARY-review-rt-63",
        "DYN_PASSWORD": "CANARY-review-dyn-64",
        "DYN_KEY": "CANARY-review-dyn-65",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def writes(emu: Emulator, since: int = 0) -> list[str]:
    return [f"{r.method} {r.status}" for r in emu.requests[since:] if r.method != "GET"]


def ids(emu: Emulator) -> list[str]:
    return sorted(c["id"] for c in emu.connections(ORG, "prod"))


def described(description: str) -> str:
    return hubspot_manifest("Alpha").replace(
        "    type: hubspot\n", f"    type: hubspot\n    description: {description}\n"
    )


# --- a saved plan applies what was reviewed, or nothing -----------------------------------------


def test_a_saved_plan_refuses_a_value_that_now_resolves_differently(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DESC", "reviewed text")
    path = write(described("${env:DESC}"))
    assert run(capsys, "plan", "-f", str(path), "--out", str(tmp_path / "p.plan"))[0] == 0
    monkeypatch.setenv("DESC", "something nobody reviewed")
    code, _, err = run(capsys, "apply", str(tmp_path / "p.plan"))
    assert code == 1
    assert "description now resolves to something other than what the plan shows" in err
    assert writes(emulator) == []


def test_a_saved_plan_applies_what_was_reviewed(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The positive case the refusals are measured against: written 0600 (it may carry the
    state's key) into a folder it creates, applied as planned, nothing left to do."""
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(described("reviewed"))
    planfile = tmp_path / "plans" / "new" / "p.plan"
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    assert oct(planfile.stat().st_mode & 0o777) == "0o600"
    code, out, err = run(capsys, "apply", str(planfile))
    assert code == 0, err
    assert "Apply complete: 0 created, 1 updated" in out
    assert emulator.connections(ORG, "prod")[0]["description"] == "reviewed"
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


def test_a_saved_plan_refuses_a_secret_changed_since(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The update planned stays an update with the same values; only a secret moved."""
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(described("reviewed"))
    assert run(capsys, "plan", "-f", str(path), "--out", str(tmp_path / "p.plan"))[0] == 0
    monkeypatch.setenv("HS_CLIENT_SECRET", SECRET + "-not-reviewed")
    since = len(emulator.requests)
    code, _, err = run(capsys, "apply", str(tmp_path / "p.plan"))
    assert code == 1
    assert "connection.alpha: a secret differs from the one the plan was made with" in err
    assert writes(emulator, since) == []
    assert SECRET not in err


def test_a_saved_create_refused_once_the_connection_exists(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone made it meanwhile: now it would be adopted, and creating it would duplicate it."""
    path = write(hubspot_manifest("Alpha"))
    planfile = path.with_name("p.plan")
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    emulator.seed(ORG, "prod", name="Alpha", params=hubspot_params("someone"))
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 1
    assert "connection.alpha: the sandbox changed since the plan was made (planned: create, " in err
    assert "now: adopt); run plan again" in err
    assert writes(emulator) == []


def test_a_missing_or_damaged_plan_file_is_named(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "none.plan"
    code, _, err = run(capsys, "apply", str(missing))
    assert (code, err.strip()) == (1, f"Error: no plan file {missing}")
    damaged = tmp_path / "damaged.plan"
    damaged.write_text('{"format_version": "1", "chan')
    code, _, err = run(capsys, "apply", str(damaged))
    assert code == 1
    assert f"{damaged} is not a readable flowplan plan (truncated?)" in err


def test_a_saved_plan_refuses_a_manifest_edited_since(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Even an edit that plans the same (a comment): the reviewed file is not the one applied."""
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "plan", "-f", str(path), "--out", str(tmp_path / "p.plan"))[0] == 0
    path.write_text("# edited after review\n" + path.read_text())
    code, _, err = run(capsys, "apply", str(tmp_path / "p.plan"))
    assert code == 1
    assert "the manifest changed since the plan was made" in err
    assert writes(emulator) == []


def test_a_saved_plan_refuses_a_state_written_since(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Another apply (of another key) moved the state's serial; the saved plan's own change
    would still plan the same, but it was reviewed against another state."""
    path = write(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(
        hubspot_manifest("Alpha", "Beta").replace("name: Alpha", "name: A2").replace("Beta", "B2")
    )
    planfile = tmp_path / "p.plan"
    assert run(capsys, "plan", "-f", str(path), "--target", "alpha", "--out", str(planfile))[0] == 0
    assert run(capsys, "apply", "-f", str(path), "--target", "beta", "--auto-approve")[0] == 0
    since = len(emulator.requests)
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 1
    assert "the state changed since the plan was made" in err
    assert writes(emulator, since) == []


@pytest.mark.parametrize(
    ("variable", "planned", "applied"),
    [("AEP_ORG_ID", ORG, "OTHER@AdobeOrg"), ("AEP_SANDBOX_NAME", "prod", "dev")],
)
def test_a_saved_plan_refuses_another_org_or_sandbox(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    planned: str,
    applied: str,
) -> None:
    """A plan made before any state exists, applied with credentials for elsewhere."""
    path = write(hubspot_manifest("Alpha").replace("sandbox: prod\n", ""))
    monkeypatch.setenv("AEP_SANDBOX_NAME", "prod")
    monkeypatch.setenv(variable, planned)
    assert run(capsys, "plan", "-f", str(path), "--out", str(tmp_path / "p.plan"))[0] == 0
    monkeypatch.setenv(variable, applied)
    code, _, err = run(capsys, "apply", str(tmp_path / "p.plan"))
    assert code == 1
    assert f"the plan is for org {ORG}, sandbox prod" in err
    assert writes(emulator) == []


# --- protect, replace and its counting ----------------------------------------------------------

BASIC = """version: 1
sandbox: prod
connections:
  dyn:
    type: microsoft-dynamics
    name: Dynamics
    auth:
      params: {serviceUri: "https://x.example", username: u, password: "${env:DYN_PASSWORD}"}
"""
PRINCIPAL = BASIC.replace(
    "    auth:\n", "    auth:\n      specName: Service Principal Key Based Authentication\n"
).replace(
    'username: u, password: "${env:DYN_PASSWORD}"',
    'servicePrincipalId: sp, servicePrincipalKey: "${env:DYN_KEY}"',
)


def protected(text: str) -> str:
    return text.replace(
        "    type: microsoft-dynamics\n", "    type: microsoft-dynamics\n    protect: true\n"
    )


def test_protect_blocks_a_replace(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(protected(BASIC))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    before = ids(emulator)
    path.write_text(protected(PRINCIPAL))
    since = len(emulator.requests)
    for argv in (["plan", "-f", str(path)], ["apply", "-f", str(path), "--auto-approve"]):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        assert "connection.dyn: is protected (protect: true) and would be replaced" in err
    assert writes(emulator, since) == []
    assert ids(emulator) == before


def test_protect_blocks_replacing_a_connection_it_would_adopt(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing connection of the same name but another auth spec, under protect: true."""
    path = write(BASIC)
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.with_suffix(".state.json").unlink()  # as if someone else had made it
    path.write_text(protected(PRINCIPAL))
    before = ids(emulator)
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 1
    assert "would be replaced" in err
    assert ids(emulator) == before


def test_a_replace_is_counted_as_a_replace(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(BASIC)
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(PRINCIPAL)
    code, out, _ = run(capsys, "plan", "-f", str(path))
    assert code == 0
    assert "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete, 0 to adopt." in out
    code, out, _ = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert json.loads(out)["summary"]["replace"] == 1
    code, out, _ = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0
    assert "Apply complete: 0 created, 0 updated, 1 replaced, 0 deleted, 0 adopted." in out
    assert "-/+ connection.dyn" in out


def test_adopting_a_connection_with_another_auth_spec_is_a_replace(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(BASIC)
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    (old,) = ids(emulator)
    path.with_suffix(".state.json").unlink()  # someone else's connection now
    path.write_text(PRINCIPAL)
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "-/+ connection.dyn" in out
    assert "1 to replace" in out
    assert "0 to adopt" in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    (new,) = emulator.connections(ORG, "prod")
    assert new["id"] != old
    assert new["auth"]["specName"] == "Service Principal Key Based Authentication"
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


# --- the rechecks before a write ----------------------------------------------------------------


def test_a_planned_delete_refuses_a_connection_changed_since(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(hubspot_manifest("Alpha"))
    assert run(capsys, "plan", "-f", str(path), "--out", str(tmp_path / "p.plan"))[0] == 0
    beta = next(c["id"] for c in emulator.connections(ORG, "prod") if c["name"] == "Beta")
    emulator.change(ORG, "prod", beta, lambda r: r.update(description="in use by bob"))
    code, _, err = run(capsys, "apply", str(tmp_path / "p.plan"))
    assert code == 1
    assert "it was not deleted" in err
    assert beta in ids(emulator)
    assert not [r for r in emulator.requests if r.method == "DELETE"]


def _someone_writes_first(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Just before flowplan's PATCH, another user writes exactly the values it will send."""
    original = ConnectionKind.update

    def update(self: ConnectionKind, client: Any, change: Any, desired: Any, id_of: Any) -> Any:
        emulator.change(ORG, "prod", change.id, lambda r: r.update(description="same text"))
        return original(self, client, change, desired, id_of)

    monkeypatch.setattr(ConnectionKind, "update", update)


def test_a_412_after_someone_else_wrote_the_same_values_is_a_conflict(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(described("same text"))
    _someone_writes_first(emulator, monkeypatch)
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 1
    assert "was changed by someone-else" in err
    assert "since the plan was made; it was not overwritten" in err


def test_a_412_of_our_own_retried_patch_is_a_success(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The PATCH's answer is dropped after the write; its retry meets 412: that was us."""
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(described("new text"))
    emulator.push_fault(Fault("drop_after_write", method="PATCH"))
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert [r.status for r in emulator.requests if r.method == "PATCH"] == [200, 412]
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


# --- fingerprints are keyed -------------------------------------------------------------------


def test_secret_fingerprints_are_keyed_per_state(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """HMAC with the state's own key: the same secret in two states gives two fingerprints, and
    a plain SHA-256 of the secret (a dictionary attack's lookup) appears nowhere."""
    states = []
    for folder in ("one", "two"):
        path = write(hubspot_manifest(f"Alpha {folder}"), f"{folder}/flowplan.yaml")
        assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
        states.append(path.with_suffix(".state.json").read_text())
    prints = []
    for text in states:
        data = json.loads(text)
        (entry,) = data["connections"].values()
        key = bytes.fromhex(data["fingerprint_key"])
        mac = hmac.new(key, f"clientSecret\0{SECRET}".encode(), hashlib.sha256).hexdigest()
        assert entry["secrets"]["clientSecret"] == f"hmac-sha256:{mac}"
        prints.append(entry["secrets"]["clientSecret"])
        for plain in (SECRET, f"clientSecret\0{SECRET}"):
            assert hashlib.sha256(plain.encode()).hexdigest() not in text
        assert SECRET not in text
    assert prints[0] != prints[1]
