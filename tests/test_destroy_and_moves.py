"""destroy, plan --destroy, the mass-delete guard, and renames without re-creating (`moved:`
and `state mv`), through the real CLI against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, cli_env, hubspot_manifest, run

from flowplan.emulator import Emulator

SECRETS = {
    "HS_CLIENT_SECRET": "CANARY-mv-cs-1",
    "HS_ACCESS_TOKEN": "CANARY-mv-at-2",
    "HS_REFRESH_TOKEN": "CANARY-mv-rt-3",
}
NAMES = ("Alpha", "Beta", "Gamma", "Delta", "Epsilon")


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    cli_env(emulator, monkeypatch, "TOKEN-mv", SECRETS)


def applied(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err


def summary(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, Any, str]:
    code, out, err = run(capsys, "plan", "-f", str(path), "--format", "json", *extra)
    return code, json.loads(out)["summary"] if code == 0 else None, err


@pytest.mark.usefixtures("env")
def test_the_mass_delete_guard(
    emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest(*NAMES))
    applied(capsys, path)
    path.write_text(hubspot_manifest("Alpha"))  # 4 of 5: more than 3 and more than 25 %
    code, _, err = summary(capsys, path)
    assert code == 1
    assert "would delete 4 of the 5 resources" in err
    assert "--max-deletes 4" in err
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve", "--max-deletes", "3")
    assert code == 1
    assert len(emulator.connections(ORG, "prod")) == 5  # nothing was deleted
    code, counts, _ = summary(capsys, path, "--max-deletes", "4")
    assert (code, counts["delete"]) == (0, 4)
    path.write_text(hubspot_manifest("Alpha", "Beta", "Gamma"))  # 2 deletes: below the guard
    assert summary(capsys, path)[0] == 0


@pytest.mark.usefixtures("env")
def test_destroy_deletes_everything_and_is_exempt_from_the_guard(
    emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest(*NAMES))
    applied(capsys, path)
    code, counts, _ = summary(capsys, path, "--destroy")
    assert (code, counts["delete"], counts["create"]) == (0, 5, 0)
    assert len(emulator.connections(ORG, "prod")) == 5  # plan --destroy is read-only
    code, out, err = run(capsys, "destroy", "-f", str(path), "--auto-approve")
    assert code == 0, err
    assert "5 deleted" in out
    assert emulator.connections(ORG, "prod") == []
    state = json.loads(path.with_suffix(".state.json").read_text())
    assert state["connections"] == {}


@pytest.mark.usefixtures("env")
def test_destroy_respects_protect(
    emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = hubspot_manifest("Alpha", "Beta").replace(
        "    name: Beta\n", "    name: Beta\n    protect: true\n"
    )
    path = write(text)
    applied(capsys, path)
    code, _, err = run(capsys, "destroy", "-f", str(path), "--auto-approve")
    assert code == 1
    assert "connection.beta: is protected" in err
    assert len(emulator.connections(ORG, "prod")) == 2


@pytest.mark.usefixtures("env")
def test_a_saved_destroy_plan_applies_as_a_destroy(
    emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(hubspot_manifest(*NAMES))
    applied(capsys, path)
    planfile = tmp_path / "destroy.plan"
    assert run(capsys, "plan", "-f", str(path), "--destroy", "--out", str(planfile))[0] == 0
    assert json.loads(planfile.read_text())["destroy"] is True
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 0, err
    assert emulator.connections(ORG, "prod") == []


@pytest.mark.usefixtures("env")
def test_moved_renames_without_a_request(
    emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    applied(capsys, path)
    (before,) = emulator.connections(ORG, "prod")
    renamed = hubspot_manifest("Alpha").replace("  alpha:", "  first:")
    path.write_text(renamed + "moved:\n  - {from: connection.alpha, to: connection.first}\n")
    code, out, err = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    (change,) = doc["changes"]
    assert (change["address"], change["action"]) == ("connection.first", "move")
    assert change["moved_from"] == "connection.alpha"
    assert doc["summary"]["move"] == 1
    code, text, _ = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0
    assert "1 moved" in text
    (after,) = emulator.connections(ORG, "prod")
    assert (after["id"], after["etag"]) == (before["id"], before["etag"])  # untouched
    state = json.loads(path.with_suffix(".state.json").read_text())
    assert list(state["connections"]) == ["first"]
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0  # done: ignored


@pytest.mark.usefixtures("env")
def test_moving_onto_a_managed_address_is_refused(
    write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    applied(capsys, path)
    text = hubspot_manifest("Beta") + "moved:\n  - {from: connection.alpha, to: connection.beta}\n"
    path.write_text(text)
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert code == 1
    assert "connection.beta is already in the state" in err


@pytest.mark.usefixtures("env")
def test_state_mv(emulator: Emulator, write: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    applied(capsys, path)
    assert run(capsys, "state", "mv", "alpha", "beta", "-f", str(path))[0] == 1  # taken
    code, out, err = run(capsys, "state", "mv", "connection.alpha", "first", "-f", str(path))
    assert code == 0, err
    assert "connection.first" in out
    path.write_text(hubspot_manifest("Alpha", "Beta").replace("  alpha:", "  first:"))
    code, counts, _ = summary(capsys, path)
    assert code == 0
    assert counts["create"] == counts["delete"] == 0


@pytest.mark.usefixtures("env")
def test_a_saved_plan_is_refused_against_another_state_location(
    write: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(hubspot_manifest("Alpha"))
    planfile = tmp_path / "p.plan"
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    other = tmp_path / "elsewhere.state.json"
    code, _, err = run(capsys, "apply", str(planfile), "--state", str(other))
    assert code == 1
    assert "the plan was made against the state at" in err
    assert not other.exists()
    assert run(capsys, "apply", str(planfile))[0] == 0


@pytest.mark.usefixtures("env")
def test_a_saved_plan_is_written_like_the_state(
    write: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any
) -> None:
    """The state's atomic writer: a full disk is a clear error, and the plan saved before is
    intact (never half a plan that a later apply would reject or misread)."""
    import errno

    from flowplan.state import local

    path = write(hubspot_manifest("Alpha"))
    planfile = tmp_path / "p.plan"
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    before = planfile.read_bytes()
    assert planfile.stat().st_mode & 0o777 == 0o600

    def full(fd: int, payload: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local, "_write_all", full)
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    code, _, err = run(capsys, "plan", "-f", str(path), "--out", str(planfile))
    assert code == 1
    assert "p.plan: cannot write (no space left on the device)" in err
    assert "Traceback" not in err
    assert planfile.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
