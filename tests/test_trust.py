"""Issue #12, duplicates and lost records: each rule through the real CLI against the emulator.

Every test here was seen to fail with its rule broken on purpose (tests/RELIABILITY.md lists
how each was broken).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, hubspot_manifest, run

from flowplan.emulator import Emulator, Fault
from flowplan.emulator.store import Caller

API_KEY = "flowplan-trust"
PARAMS = {
    "HS_CLIENT_ID": "client-id-1",
    "HS_CLIENT_SECRET": "CANARY-trust-cs-51",
    "HS_ACCESS_TOKEN": "CANARY-trust-at-52",
    "HS_REFRESH_TOKEN": "CANARY-trust-rt-53",
}


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "TOKEN-trust-canary",
        "AEP_API_KEY": API_KEY,
        "AEP_ORG_ID": ORG,
        "FLOWPLAN_BACKOFF": "0",
        "NO_COLOR": "1",
        **PARAMS,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def manifest_params() -> dict[str, str]:
    """The params as the manifest resolves them (what a create by flowplan sends)."""
    return {
        "clientId": PARAMS["HS_CLIENT_ID"],
        "clientSecret": PARAMS["HS_CLIENT_SECRET"],
        "accessToken": PARAMS["HS_ACCESS_TOKEN"],
        "refreshToken": PARAMS["HS_REFRESH_TOKEN"],
    }


def state_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_suffix(".state.json").read_text())
    return data


def recorded(path: Path) -> dict[str, str]:
    """key -> connection id, as the state records them."""
    return {key: entry["id"] for key, entry in state_of(path)["connections"].items()}


def by_name(emu: Emulator) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for conn in emu.connections(ORG, "prod"):
        out.setdefault(conn["name"], []).append(conn["id"])
    return out


def writes(emu: Emulator, since: int) -> list[str]:
    return [f"{r.method} {r.status}" for r in emu.requests[since:] if r.method != "GET"]


def wait_for_post(emu: Emulator, timeout: float = 30.0) -> bool:
    """Block until the emulator has received a POST (the create under test)."""
    deadline = time.monotonic() + timeout
    while not any(r.method == "POST" for r in emu.requests):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# --- re-creates look up by identity first ------------------------------------------------------


def test_an_interrupted_re_create_is_adopted_not_created_again(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The state's connection was deleted out of band; a re-create POSTed and was killed before
    recording it. The next plan must find that connection by identity, not create another."""
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    first = recorded(path)["alpha"]
    emulator.store.delete(Caller(ORG, "prod", "someone-else"), first)
    orphan = emulator.seed(ORG, "prod", name="Alpha", params=manifest_params(), client=API_KEY)
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "adopted instead of created again" in out, out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    assert by_name(emulator) == {"Alpha": [orphan]}
    assert recorded(path) == {"alpha": orphan}
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


def test_a_re_create_with_nothing_to_adopt_creates_once(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    emulator.store.delete(Caller(ORG, "prod", "someone-else"), recorded(path)["alpha"])
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "no longer exists (deleted outside flowplan); it will be created again" in out
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    ((only,),) = by_name(emulator).values()
    assert recorded(path) == {"alpha": only}


def test_a_re_create_whose_answer_is_lost_is_found_not_sent_again(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The re-create's POST commits and its answer is dropped (an unreadable 201)."""
    path = write(hubspot_manifest("Alpha"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    emulator.store.delete(Caller(ORG, "prod", "someone-else"), recorded(path)["alpha"])
    emulator.push_fault(Fault("drop_after_write", method="POST", path_contains="/connections"))
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    ((only,),) = by_name(emulator).values()
    assert recorded(path) == {"alpha": only}
    assert len([r for r in emulator.requests if r.method == "POST"]) == 2  # first apply, re-create


# --- an unknown POST outcome stays unknown until a lookup can be trusted ------------------------


def test_a_create_that_lands_late_is_found_not_sent_again(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The POST's connection is dropped unanswered and the server commits the create a second
    later: the first lookup finds nothing, a patient one finds it. One connection, recorded."""
    path = write(hubspot_manifest("Alpha"))
    emulator.push_fault(Fault("drop", method="POST", path_contains="/connections"))
    landed: list[str] = []

    def commit_late() -> None:
        if wait_for_post(emulator):
            time.sleep(1.0)  # after the first lookup (0.5 s), before the second (2 s)
            landed.append(
                emulator.seed(ORG, "prod", name="Alpha", params=manifest_params(), client=API_KEY)
            )

    thread = threading.Thread(target=commit_late)
    thread.start()
    try:
        code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    finally:
        thread.join()
    assert code == 0, err
    assert by_name(emulator) == {"Alpha": landed}
    assert recorded(path) == {"alpha": landed[0]}
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 1  # the dropped one; never sent again
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0


def test_the_lookup_never_adopts_a_connection_another_key_manages(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Key `b` manages "Old" and is renamed "New"; new key `a` wants "Old". a's POST is dropped
    before b is renamed: the lookup sees b's connection named "Old" and must not take it."""
    monkeypatch.setattr("flowplan.engine.applier.LOOKUP_DELAYS_S", (0.05, 0.05))
    path = write(hubspot_manifest("Old").replace("  old:", "  b:"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    b_id = recorded(path)["b"]
    two = hubspot_manifest("Old", "New").replace("  old:", "  a:").replace("  new:", "  b:")
    path.write_text(two)
    emulator.push_fault(Fault("drop", method="POST", path_contains="/connections"))
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve", "--parallelism", "1")
    assert code == 0, err
    ids = recorded(path)
    assert ids["b"] == b_id
    assert ids["a"] != b_id
    assert by_name(emulator) == {"Old": [ids["a"]], "New": [b_id]}


# --- a 3xx answer is not a success --------------------------------------------------------------


def test_a_delete_answered_302_keeps_the_state_entry(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    before = recorded(path)
    path.write_text(hubspot_manifest("Alpha"))
    emulator.push_fault(Fault("status", status=302, method="DELETE"))
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 1
    assert "302" in err
    assert recorded(path) == before  # beta is still recorded: nothing was deleted
    assert sorted(by_name(emulator)) == ["Alpha", "Beta"]
    code, out, _ = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 2
    assert "connection.beta" in out


# --- two keys never manage one connection -------------------------------------------------------


def test_two_keys_naming_one_connection_after_expansion_are_refused(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECOND_NAME", "Alpha")
    text = hubspot_manifest("Alpha", "Other").replace("name: Other", "name: ${env:SECOND_NAME}")
    path = write(text)
    for argv in (["plan", "-f", str(path)], ["apply", "-f", str(path), "--auto-approve"]):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        assert "both declare connection 'Alpha' once their references are expanded" in err
    assert writes(emulator, 0) == []
    monkeypatch.setenv("SECOND_NAME", "Beta")  # unique once expanded: fine
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    assert sorted(by_name(emulator)) == ["Alpha", "Beta"]


def test_a_state_recording_one_id_under_two_keys_is_refused(
    emulator: Emulator, env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    state_path = path.with_suffix(".state.json")
    data = state_of(path)
    data["connections"]["beta"]["id"] = data["connections"]["alpha"]["id"]
    state_path.write_text(json.dumps(data))
    path.write_text(hubspot_manifest("Alpha", "Beta").replace("name: Beta", "name: Gamma"))
    since = len(emulator.requests)
    for argv in (["plan", "-f", str(path)], ["apply", "-f", str(path), "--auto-approve"]):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        assert "the state records connection" in err
        assert "under both connection.alpha and connection.beta" in err
    assert writes(emulator, since) == []  # Alpha was not renamed Gamma through beta's entry
    assert sorted(by_name(emulator)) == ["Alpha", "Beta"]


def test_two_connections_appearing_during_an_unknown_create_are_not_guessed_between(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The POST goes unanswered and two unmanaged connections with its identity appear: the
    apply neither adopts one at random nor creates a third; it says how to choose."""
    monkeypatch.setattr("flowplan.engine.applier.LOOKUP_DELAYS_S", (0.3,))
    path = write(hubspot_manifest("Alpha"))
    emulator.push_fault(Fault("drop", method="POST", path_contains="/connections"))

    def two_appear_after_the_post() -> None:
        if not wait_for_post(emulator):
            return
        for _ in range(2):
            emulator.seed(ORG, "prod", name="Alpha", params=manifest_params(), client=API_KEY)

    thread = threading.Thread(target=two_appear_after_the_post)
    thread.start()
    try:
        code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    finally:
        thread.join()
    assert code == 1
    assert "2 unmanaged connections have its identity; choose one with `flowplan import" in err
    assert len(by_name(emulator)["Alpha"]) == 2
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1
    assert not path.with_suffix(".state.json").exists()  # nothing was recorded


def test_a_delete_of_a_connection_already_gone_forgets_it(
    emulator: Emulator,
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Gone before the plan (planned as forget only), or gone between a saved plan and its
    apply (the delete's recheck meets 404): either way the entry goes, and the plan is empty."""
    path = write(hubspot_manifest("Alpha", "Beta", "Gamma"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    ids = recorded(path)
    someone = Caller(ORG, "prod", "someone-else")
    emulator.store.delete(someone, ids["beta"])
    path.write_text(hubspot_manifest("Alpha"))
    planfile = tmp_path / "p.plan"
    assert run(capsys, "plan", "-f", str(path), "--out", str(planfile))[0] == 0
    emulator.store.delete(someone, ids["gamma"])
    code, _, err = run(capsys, "apply", str(planfile))
    assert code == 0, err
    assert sorted(recorded(path)) == ["alpha"]
    assert run(capsys, "plan", "-f", str(path), "--detailed-exitcode")[0] == 0
