"""plan/apply details: request budget, colour, targets, patch bodies, backups, events, prompt,
lock waiting."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, hubspot_manifest, hubspot_params, run

from flowplan.emulator import Emulator
from flowplan.state.file import StateStore

BASE_ENV = {
    "AEP_ACCESS_TOKEN": "t",
    "AEP_API_KEY": "flowplan-tests",
    "AEP_ORG_ID": ORG,
    "FLOWPLAN_BACKOFF": "0",
    "HS_CLIENT_ID": "cid",
    "HS_CLIENT_SECRET": "cs",
    "HS_ACCESS_TOKEN": "at",
    "HS_REFRESH_TOKEN": "rt",
}


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {**BASE_ENV, "FLOWPLAN_ENDPOINT": emulator.flow_url}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return values


def test_plan_request_budget(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"C{i}" for i in range(250)]
    path = write(hubspot_manifest(*names))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve", "--parallelism", "16")[0] == 0
    for i in range(30):  # others' connections of other names in the same sandbox
        emulator.seed(ORG, "prod", name=f"foreign {i}", params=hubspot_params())
    before = len(emulator.requests)
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
    made = len(emulator.requests) - before
    assert made <= -(-280 // 100) + 1  # one paged listing of the manifest's specs


def test_colour_only_when_asked_or_on_a_tty(
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert "\x1b[" not in run(capsys, "plan", "-f", str(path))[1]  # piped: never
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[32m+ connection.alpha" in run(capsys, "plan", "-f", str(path))[1]
    assert "\x1b[" not in run(capsys, "plan", "-f", str(path), "--no-color")[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run(capsys, "plan", "-f", str(path))[1]


def test_target_limits_plan_and_apply(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    _, out, _ = run(capsys, "plan", "-f", str(path), "--target", "beta")
    assert "connection.alpha" not in out
    assert "Plan: 1 to create" in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve", "--target", "beta")[0] == 0
    assert [c["name"] for c in emulator.connections(ORG, "prod")] == ["Beta"]
    assert run(capsys, "plan", "-f", str(path), "--target", "nope")[0] == 1


def test_patch_sends_auth_params_only_when_needed(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(
        hubspot_manifest("Alpha").replace("name: Alpha", "name: Alpha\n    description: hello")
    )
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    patches = [r for r in emulator.requests if r.method == "PATCH"]
    assert patches[-1].body == [{"op": "add", "path": "/description", "value": "hello"}]
    monkeypatch.setenv("HS_ACCESS_TOKEN", "rotated")
    _, out, _ = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert "~ auth.params.accessToken = (sensitive value changed)" in out
    patches = [r for r in emulator.requests if r.method == "PATCH"]
    assert [op["path"] for op in patches[-1].body] == ["/auth/params"]
    assert patches[-1].body[0]["value"]["accessToken"] == "rotated"
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


def test_state_file_backup_and_contents(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    state_path = path.with_suffix(".state.json")
    state = json.loads(state_path.read_text())
    backup = json.loads(state_path.with_name(state_path.name + ".backup").read_text())
    assert backup["serial"] == state["serial"] - 1
    assert backup["lineage"] == state["lineage"]
    assert set(backup["connections"]) == {"alpha"}
    entry = state["connections"]["alpha"]
    assert set(entry) >= {
        "id",
        "etag",
        "name",
        "description",
        "connectionSpec",
        "authSpecName",
        "params",
        "protect",
        "secrets",
    }
    assert entry["params"] == {"clientId": "cid"}
    assert all(v.startswith("hmac-sha256:") for v in entry["secrets"].values())
    assert oct(state_path.stat().st_mode & 0o777) == "0o600"


def test_json_event_stream(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    _, out, _ = run(capsys, "apply", "-f", str(path), "--auto-approve", "--format", "json")
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["plan", "change", "change", "summary"]
    assert {e["key"] for e in events if e["type"] == "change"} == {"alpha", "beta"}
    assert events[-1] == {
        "type": "summary",
        "created": 2,
        "updated": 0,
        "replaced": 0,
        "deleted": 0,
        "adopted": 0,
        "moved": 0,
    }


def _on_a_terminal(args: list[str], answer: bytes, env: dict[str, str], cwd: Path) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowplan", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=cwd,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not sent and b"Only 'yes' is accepted" in output:
            os.write(leader, answer)
            sent = True
    proc.wait(timeout=60)
    os.close(leader)
    return output.decode(errors="replace")


@pytest.mark.parametrize(("answer", "created"), [(b"yes\n", 1), (b"no\n", 0)])
def test_apply_asks_yes_on_a_terminal(
    emulator: Emulator, write: Any, answer: bytes, created: int
) -> None:
    path = write(hubspot_manifest("Alpha"))
    env = {**os.environ, **BASE_ENV, "FLOWPLAN_ENDPOINT": emulator.flow_url}
    output = _on_a_terminal(["apply", "-f", str(path)], answer, env, path.parent)
    assert "+ connection.alpha will be created" in output
    assert len(emulator.connections(ORG, "prod")) == created
    if not created:
        assert "Apply cancelled." in output


def test_lock_timeout_waits_for_the_holder(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    store = StateStore(path.with_suffix(".state.json"))
    held = threading.Event()

    def hold() -> None:
        with store.lock():
            held.set()
            time.sleep(1.0)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    start = time.monotonic()
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve", "--lock-timeout", "10")
    holder.join()
    assert code == 0, err
    assert time.monotonic() - start >= 0.5


def test_protect_added_later_is_recorded_and_then_enforced(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    path.write_text(
        hubspot_manifest("Alpha").replace("type: hubspot", "type: hubspot\n    protect: true")
    )
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "~ protect: false -> true" in out
    before = len(emulator.requests)
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    assert not [r for r in emulator.requests[before:] if r.method == "PATCH"]
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
    path.write_text(hubspot_manifest())
    code, _, err = run(capsys, "plan", "-f", str(path))
    assert code == 1
    assert "alpha: is protected" in err


def test_saved_create_refused_when_the_connection_appeared_meanwhile(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = write(hubspot_manifest("Alpha"))
    planfile = tmp_path / "p.plan"
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    emulator.seed(ORG, "prod", name="Alpha", params=hubspot_params("someone"))
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 1
    assert "planned: create, now: adopt" in err
    assert len(emulator.connections(ORG, "prod")) == 1


def test_auth_spec_switch_replaces_the_connection(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DYN_PASSWORD", "p")
    monkeypatch.setenv("DYN_KEY", "k")
    basic = """version: 1
sandbox: prod
connections:
  dyn:
    type: microsoft-dynamics
    name: Dynamics
    auth:
      params: {serviceUri: "https://x.example", username: u, password: "${env:DYN_PASSWORD}"}
"""
    principal = basic.replace(
        "    auth:\n", "    auth:\n      specName: Service Principal Key Based Authentication\n"
    ).replace(
        'username: u, password: "${env:DYN_PASSWORD}"',
        'servicePrincipalId: sp, servicePrincipalKey: "${env:DYN_KEY}"',
    )
    path = write(basic)
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    first = emulator.connections(ORG, "prod")[0]["id"]
    path.write_text(principal)
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "-/+ connection.dyn" in out
    assert "the auth spec cannot be changed in place" in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    (now,) = emulator.connections(ORG, "prod")
    assert now["id"] != first
    assert now["auth"]["specName"] == "Service Principal Key Based Authentication"
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
