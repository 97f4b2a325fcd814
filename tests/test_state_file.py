"""The state file backend's robustness: a failed or full-disk write, a symlinked state, a
damaged state, a lost compare-and-swap, the lock's holder, and the location's precedence."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import HUBSPOT_SPEC, ORG, hubspot_manifest, run

from flowplan.errors import LockError, StateConflictError, StateError
from flowplan.state import backend, local
from flowplan.state.file import StateStore, atomic_write
from flowplan.state.location import for_environment, open_store, resolve_location
from flowplan.state.model import State


def _entry(conn_id: str, name: str) -> dict[str, Any]:
    """A state entry as flowplan writes one for a HubSpot connection."""
    return {
        "id": conn_id,
        "etag": '"e"',
        "connectionSpec": {"id": HUBSPOT_SPEC, "version": "1.0"},
        "name": name,
        "description": None,
        "authSpecName": "Basic Authentication",
        "params": {"clientId": "plain"},
        "protect": False,
        "secrets": {},
    }


def _written(path: Path, serial: int = 2) -> StateStore:
    store = StateStore(path)
    state = store.load(ORG, "prod")
    for _ in range(serial):
        store.save(state)
    return store


def test_a_failed_write_names_the_file_and_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.state.json"
    store = _written(path)
    before = path.read_bytes()

    def full_disk(fd: int, payload: bytes) -> None:
        os.write(fd, payload[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(local, "_write_all", full_disk)
    state = store.load(ORG, "prod")
    with pytest.raises(StateError) as failed:
        store.save(state)
    assert str(path) in str(failed.value)
    assert "no space left on the device" in str(failed.value)
    assert state.serial == 2  # the refused serial was not consumed
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "s.state.json",
        "s.state.json.backup",
        "s.state.json.lock",
    ]  # no temporary file left behind


def test_a_write_too_large_for_the_disk_fails_cleanly_through_the_cli(tmp_path: Path) -> None:
    """A real failing write: the child may not write files over 4 KiB (RLIMIT_FSIZE)."""
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest("Alpha"))
    state_path = path.with_suffix(".state.json")
    _written(state_path, 1)
    before = state_path.read_bytes()
    big = json.loads(before)
    big["serial"] = 9
    big["connections"] = {f"k{i}": _entry(f"id-{i}", "x" * 200) for i in range(50)}
    pushed = tmp_path / "big.json"
    pushed.write_text(json.dumps(big))

    def limit() -> None:  # pragma: no cover - runs in the child
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = subprocess.run(
        [sys.executable, "-m", "flowplan", "state", "push", str(pushed), "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"Error: {state_path}: cannot write (File too large)")
    assert "Traceback" not in result.stderr
    assert state_path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_symlinked_state_stays_a_link_to_the_replaced_target(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "real.json"
    real.parent.mkdir()
    link = tmp_path / "s.state.json"
    link.symlink_to(real)
    store = _written(link, 1)
    store.save(store.load(ORG, "prod"))
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert json.loads(real.read_text())["serial"] == 2
    assert json.loads(link.with_name(link.name + ".backup").read_text())["serial"] == 1
    assert oct(real.stat().st_mode & 0o777) == "0o600"


DAMAGED: dict[str, bytes] = {
    "not UTF-8": b'{"version": 1, "lineage": "\xff\xfe"}',
    "not valid JSON": b'{"version": 1, "lin',
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("label", [*DAMAGED, "more than any flowplan state"])
def test_a_damaged_state_is_refused_naming_the_file_and_backup(
    label: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest("Alpha"))
    state_path = path.with_suffix(".state.json")
    _written(state_path, 2)
    if label in DAMAGED:
        state_path.write_bytes(DAMAGED[label])
    else:
        monkeypatch.setattr(backend, "MAX_STATE_BYTES", 100)
    before = state_path.read_bytes()
    for command in (["state", "list"], ["state", "rm", "alpha"], ["state", "pull"]):
        code, _, err = run(capsys, *command, "-f", str(path))
        assert code == 1
        assert err.startswith(f"Error: {state_path}: "), err
        assert label in err
        assert f"The previous version is {state_path}.backup" in err
        assert "Traceback" not in err
    assert state_path.read_bytes() == before


def test_a_lost_compare_and_swap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.state.json"
    alice, bob = StateStore(path), StateStore(path)
    state = alice.load(ORG, "prod")
    assert not bob.load(ORG, "prod").exists
    alice.save(state)
    with pytest.raises(StateConflictError):
        bob.save(State.new(ORG, "prod"))  # both saw no state: the second create loses
    stale = bob.load(ORG, "prod")
    alice.save(state)
    before = path.read_bytes()
    with pytest.raises(StateConflictError, match=str(path)):
        bob.save(stale)
    assert path.read_bytes() == before


def test_the_lock_records_its_holder_and_force_unlock_never_steals_it(tmp_path: Path) -> None:
    path = tmp_path / "s.state.json"
    holder, other = StateStore(path), StateStore(path)
    with holder.lock():
        with pytest.raises(LockError) as held, other.lock():
            pass
        message = str(held.value)
        assert f"pid {os.getpid()}, user " in message
        lock_id = message.split("lock id ")[1].split(")")[0]
        with pytest.raises(StateError, match="stop that process"):
            other.force_unlock(lock_id)
    assert "not locked" in other.force_unlock(lock_id)


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "p.plan"
    atomic_write(target, b"one")
    atomic_write(target, b"two", mode=0o640)
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    with pytest.raises(StateError, match="cannot write"):
        atomic_write(tmp_path / "plans" / "p.plan" / "under-a-file", b"x")


def test_state_commands_need_no_flow_service_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith(("AEP_", "FLOWPLAN_", "HS_"))]:
        monkeypatch.delenv(name)
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest("Alpha"))
    store = StateStore(path.with_suffix(".state.json"))
    state = store.load(ORG, "prod")
    data: dict[str, Any] = state.to_dict()
    data["connections"] = {"alpha": _entry("c-1", "Alpha")}
    store.save(State.from_dict(data, "test"))
    assert run(capsys, "state", "list", "-f", str(path))[1] == "alpha\tc-1\tAlpha\n"
    assert '"id": "c-1"' in run(capsys, "state", "show", "alpha", "-f", str(path))[1]
    code, out, err = run(capsys, "state", "rm", "alpha", "-f", str(path))
    assert (code, out) == (0, "Removed alpha from the state; connection c-1 still exists.\n"), err
    assert run(capsys, "state", "list", "-f", str(path))[1] == ""


# --- the location ------------------------------------------------------------------------------


def test_location_precedence_and_environment_names(tmp_path: Path) -> None:
    manifest = tmp_path / "envs" / "team.yaml"
    env = {"FLOWPLAN_STATE": "s3://b/from-env.json"}

    def where(cli: str | None, env_state: str | None, top: str | None, name: str | None) -> str:
        return resolve_location(cli, env_state, top, env, manifest, name)

    assert where(None, None, None, None) == "s3://b/from-env.json"
    assert resolve_location(None, None, None, {}, manifest, None) == str(
        tmp_path / "envs" / "team.state.json"
    )
    assert resolve_location(None, None, None, {}, manifest, "dev") == str(
        tmp_path / "envs" / "team.dev.state.json"
    )
    assert where(None, None, "top.state.json", None) == str(tmp_path / "envs" / "top.state.json")
    assert where(None, None, "top.state.json", "dev") == str(
        tmp_path / "envs" / "top.dev.state.json"
    )
    assert where(None, "own.json", "top.json", "dev") == str(tmp_path / "envs" / "own.json")
    assert where("cli.state.json", "own.json", "top.json", None) == "cli.state.json"
    assert where("cli.state.json", "own.json", "top.json", "prod") == "cli.prod.state.json"
    assert where(None, None, None, "prod") == "s3://b/from-env.prod.json"
    pg = "postgresql://u@h/db?table=t"
    assert for_environment(pg, "dev", "team") == "postgresql://u@h/db?table=t&name=team.dev"
    assert for_environment(pg + "&name=x", "dev", "team").endswith("table=t&name=x.dev")
    assert for_environment("s3://b/k", "dev", "team") == "s3://b/k.dev"
    store = open_store("relative.json", tmp_path)
    assert store.describe() == str(tmp_path / "relative.json")


def test_the_manifest_state_key_places_the_state(
    tmp_path: Path,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "AEP_ACCESS_TOKEN": "token",
        "AEP_API_KEY": "flowplan-tests",
        "AEP_ORG_ID": ORG,
        "HS_CLIENT_ID": "id",
        "HS_CLIENT_SECRET": "cs",
        "HS_ACCESS_TOKEN": "at",
        "HS_REFRESH_TOKEN": "rt",
    }.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "flowplan.yaml"
    path.write_text("state: shared/team.state.json\n" + hubspot_manifest("Alpha"))
    monkeypatch.chdir(tmp_path.parent)
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    placed = tmp_path / "shared" / "team.state.json"  # relative to the manifest's folder
    assert json.loads(placed.read_text())["connections"]["alpha"]["name"] == "Alpha"
    assert not path.with_suffix(".state.json").exists()
    other = tmp_path / "cli.state.json"
    code, out, err = run(capsys, "plan", "-f", str(path), "--state", str(other))  # --state wins
    assert (code, "will be adopted" in out) == (0, True), out + err


def test_a_refused_lock_waits_a_moment_for_the_holder_to_name_itself(tmp_path: Path) -> None:
    """The holder takes the OS lock, then writes its record: a contender that looks in
    between is given a moment, rather than saying "holder unknown"."""
    import threading

    import filelock

    file_backend = local.FileBackend(tmp_path / "s.state.json")
    held = filelock.FileLock(str(file_backend.lock_path), thread_local=False)
    held.acquire()
    holder = backend.LockInfo("lock-1", 4242, "alice", "ci-runner", "2026-01-01T00:00:00Z")
    late = threading.Timer(
        0.15, lambda: file_backend.holder_path.write_text(holder.to_json(), encoding="utf-8")
    )
    late.start()
    try:
        with pytest.raises(LockError, match="pid 4242, user alice"), file_backend.lock(0.0):
            pass
    finally:
        late.join()
        held.release()


def test_a_holder_that_never_names_itself_is_unknown_after_the_wait() -> None:
    looked: list[int] = []

    def nobody() -> backend.LockInfo | None:
        looked.append(1)
        return None

    assert backend.holder_once_named(nobody, 0.1, 0.02) is None
    assert len(looked) >= 3
