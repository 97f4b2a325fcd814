"""Shared state on a real PostgreSQL server and a real S3-compatible server (both started by the
test suite on loopback, tests/servers.py): every promise of the state file holds on both.

- the backend contract: atomic compare-and-swap writes, the previous version kept, a lock that
  names its holder and can be waited for;
- two applies started at the same moment from two working directories: one wins, the other
  fails naming it, and nothing is lost or duplicated;
- a SIGKILLed apply then a re-apply: no stuck lock on PostgreSQL; on S3 the lock stays and
  `force-unlock` releases it;
- `state migrate` file -> PostgreSQL -> S3 -> file keeping lineage and serial, then no changes;
- no secret byte in any row or object, and the database password in no message.
"""

# ruff: noqa: F811  (the server fixtures are imported, then named as test parameters)
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from conftest import ORG, hubspot_manifest, run
from servers import postgres_server, postgres_url, s3_env, s3_server  # noqa: F401 (fixtures)

from flowplan.emulator import Emulator
from flowplan.errors import ConfigError, LockError, StateConflictError, StateError
from flowplan.state.location import open_store
from flowplan.state.model import State
from flowplan.state.store import StateStore

SECRETS = {
    "HS_CLIENT_ID": "plain-client-id",
    "HS_CLIENT_SECRET": "CANARY-cs-5be1d2",
    "HS_ACCESS_TOKEN": "CANARY-at-0c9e4f",
    "HS_REFRESH_TOKEN": "CANARY-rt-a7731b",
}
TOKEN = "CANARY-token-88aa01"
API_KEY = "flowplan-backends"
BACKENDS = ["postgres", "s3"]


@pytest.fixture(params=BACKENDS)
def remote(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A factory of fresh locations (one per name) on the backend under test."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        prefix = f"t{os.getpid()}_{abs(hash(request.node.name)) % 10**8}"
        return lambda name: f"{url}?name={prefix}-{name}"
    env = request.getfixturevalue("s3_env")
    return lambda name: f"s3://{env['S3_BUCKET']}/team/{name}.json"


def _store(location: str) -> StateStore:
    return open_store(location, Path())


# --- the backend contract ---------------------------------------------------------------------


def test_writes_are_compare_and_swap_and_keep_the_previous_version(
    remote: Callable[[str], str],
) -> None:
    location = remote("cas")
    alice, bob = _store(location), _store(location)
    first = alice.load(ORG, "prod")
    assert not first.exists
    assert not bob.load(ORG, "prod").exists
    alice.save(first)  # serial 1
    with pytest.raises(StateConflictError, match="changed by someone else"):
        bob.save(State.new(ORG, "prod"))  # both saw no state: the second create loses
    seen_by_bob = bob.load(ORG, "prod")
    alice.save(first)  # serial 2
    with pytest.raises(StateConflictError, match="nothing was written"):
        bob.save(seen_by_bob)  # bob read serial 1, alice wrote 2 since
    assert seen_by_bob.serial == 1  # a refused save leaves the state object as it was
    stored = _store(location).load(ORG, "prod")
    assert (stored.serial, stored.lineage) == (2, first.lineage)
    alice.save(first)  # serial 3: the previous version (2) is kept
    assert _previous_serial(location) == 2


def _previous_serial(location: str) -> int:
    if location.startswith("s3://"):
        import boto3  # type: ignore[import-untyped]

        bucket, _, key = location.removeprefix("s3://").partition("/")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key + ".backup")["Body"].read()
        return int(json.loads(body)["serial"])
    name = location.split("name=")[1]
    with psycopg.connect(location.split("?")[0]) as conn:
        row = conn.execute(
            "SELECT previous_serial, previous FROM flowplan_state WHERE name = %s", (name,)
        ).fetchone()
    assert row is not None
    assert json.loads(row[1])["serial"] == row[0]
    return int(row[0])


def test_a_held_lock_names_its_holder_and_can_be_waited_for(remote: Callable[[str], str]) -> None:
    location = remote("lock")
    holder, other = _store(location), _store(location)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.lock():
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        start = time.monotonic()
        with pytest.raises(LockError) as refused, other.lock(0):
            pass
        assert time.monotonic() - start < 5  # at once
        message = str(refused.value)
        assert f"pid {os.getpid()}, user " in message
        assert re.search(r"host \S+, since \S+Z, lock id [0-9a-f-]{36}", message)
        threading.Timer(0.5, release.set).start()
        start = time.monotonic()
        with other.lock(20):
            waited = time.monotonic() - start
        assert waited >= 0.3
    finally:
        release.set()
        thread.join()


def test_the_database_password_never_shows(postgres_url: str) -> None:
    password = postgres_url.split(":")[2].split("@")[0]
    store = _store(postgres_url + "?name=pw&table=flowplan_pw")
    assert password not in store.describe()
    assert "table=flowplan_pw" in store.describe()
    store.save(store.load(ORG, "prod"))
    wrong_port = re.sub(r":(\d+)/", ":1/", postgres_url)
    with pytest.raises(StateError) as failed:
        _store(wrong_port).load(ORG, "prod")
    assert "cannot connect" in str(failed.value)
    assert password not in str(failed.value)
    wrong_password = postgres_url.replace(password, password + "x")
    with pytest.raises(StateError) as failed:
        _store(wrong_password).load(ORG, "prod")
    assert password not in str(failed.value)
    with pytest.raises(ConfigError, match="table"):
        _store(postgres_url + "?table=x;drop")


# --- the real CLI against the emulator ----------------------------------------------------------


def _env(emu: Emulator, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        **extra,
        "FLOWPLAN_ENDPOINT": emu.flow_url,
        "AEP_ACCESS_TOKEN": TOKEN,
        "AEP_API_KEY": API_KEY,
        "AEP_ORG_ID": ORG,
        "FLOWPLAN_BACKOFF": "0.05",
        "NO_COLOR": "1",
        **SECRETS,
    }


def _flowplan(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowplan", *args]


def _names(count: int) -> list[str]:
    return [f"Conn {i}" for i in range(count)]


def _check_converged(emu: Emulator, location: str, names: list[str]) -> None:
    """Every manifest connection exists once, the state points at each, no orphan."""
    remote = [c for c in emu.connections(ORG, "prod") if c["createdClient"] == API_KEY]
    state = _store(location).load(ORG, "prod")
    assert sorted(c["name"] for c in remote) == sorted(names)  # nothing lost, none twice
    assert sorted(e.id for e in state.connections.values()) == sorted(c["id"] for c in remote)


def test_two_applies_at_the_same_moment_from_two_folders(
    tmp_path: Path, remote: Callable[[str], str]
) -> None:
    location = remote("race")
    names = _names(30)
    folders = [tmp_path / "alice", tmp_path / "bob"]
    for folder in folders:
        folder.mkdir()
        (folder / "flowplan.yaml").write_text(hubspot_manifest(*names))
    with Emulator(latency_ms=40) as emu:
        env = _env(emu, {"FLOWPLAN_STATE": location})
        procs = [
            subprocess.Popen(
                _flowplan("apply", "--auto-approve", "--parallelism", "2"),
                cwd=folder,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for folder in folders
        ]
        results = [(p, *p.communicate(timeout=240)) for p in procs]
        codes = sorted(p.returncode for p, _, _ in results)
        assert codes == [0, 1], [(p.returncode, err[-800:]) for p, _, err in results]
        winner = next(p for p, _, _ in results if p.returncode == 0)
        _, _, lost = next(r for r in results if r[0].returncode == 1)
        assert "Traceback" not in lost
        assert f"is locked by another apply (pid {winner.pid}, user " in lost
        _check_converged(emu, location, names)
        again = subprocess.run(
            _flowplan("plan", "--detailed-exitcode"),
            cwd=folders[1] if winner is procs[0] else folders[0],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        _assert_no_secret(location, [o for _, o, e in results for o in (o, e)])


def test_a_sigkilled_apply_loses_nothing_and_leaves_no_stuck_lock(
    tmp_path: Path, remote: Callable[[str], str]
) -> None:
    location = remote("killed")
    names = _names(40)
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest(*names))
    outputs: list[str] = []
    with Emulator(latency_ms=30) as emu:
        env = _env(emu, {})
        apply = _flowplan("apply", "-f", str(path), "--state", location, "--auto-approve")
        proc = subprocess.Popen([*apply, "--parallelism", "2"], env=env)
        store = _store(location)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not store.load(ORG, "prod").connections:
            time.sleep(0.05)  # killed once some of its work is recorded, the rest not yet
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        recorded = len(store.load(ORG, "prod").connections)
        assert 0 < recorded < len(names)
        again = subprocess.run(apply, env=env, capture_output=True, text=True, check=False)
        outputs += [again.stdout, again.stderr]
        if location.startswith("s3://"):  # the lock object outlives its holder
            assert again.returncode == 1
            assert f"pid {proc.pid}" in again.stderr
            lock_id = re.search(r"flowplan force-unlock ([0-9a-f-]{36})", again.stderr)
            assert lock_id is not None, again.stderr
            unlock = subprocess.run(
                _flowplan("force-unlock", lock_id[1], "-f", str(path), "--state", location),
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert unlock.returncode == 0, unlock.stderr
            assert "Released the lock" in unlock.stdout
            again = subprocess.run(apply, env=env, capture_output=True, text=True, check=False)
            outputs += [again.stdout, again.stderr]
        assert again.returncode == 0, again.stderr[-2000:]
        _check_converged(emu, location, names)
    _assert_no_secret(location, outputs)


# --- state commands -----------------------------------------------------------------------------


@pytest.fixture
def cli_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for key, value in _env(emulator, {}).items():
        if key not in os.environ or os.environ[key] != value:
            monkeypatch.setenv(key, value)
    return emulator


def test_migrate_file_postgres_s3_file_keeps_lineage_and_plans_nothing(
    tmp_path: Path,
    cli_env: Emulator,
    postgres_url: str,
    s3_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    original = json.loads(path.with_suffix(".state.json").read_text())
    pg = f"{postgres_url}?name=migrated-{os.getpid()}"
    s3 = f"s3://{s3_env['S3_BUCKET']}/team/flowplan.json"
    back = tmp_path / "back" / "flowplan.state.json"
    outputs = []
    for source, target in ((None, pg), (pg, s3), (s3, str(back))):
        extra = ["--state", source] if source else []
        code, out, err = run(capsys, "state", "migrate", "-f", str(path), *extra, "--to", target)
        outputs += [out, err]
        assert code == 0, err
        assert f"lineage {original['lineage']}, serial {original['serial']}" in out
        pulled = json.loads(run(capsys, "state", "pull", "-f", str(path), "--state", target)[1])
        assert pulled["lineage"] == original["lineage"]
        assert pulled["serial"] == original["serial"]
        assert pulled["connections"] == original["connections"]
        code, out, err = run(
            capsys, "plan", "-f", str(path), "--state", target, "--detailed-exitcode"
        )
        assert code == 0, out + err
    # a target that already holds a state is refused unless --force
    code, _, err = run(capsys, "state", "migrate", "-f", str(path), "--to", pg)
    assert code == 1
    assert "already holds a state" in err
    assert run(capsys, "state", "migrate", "-f", str(path), "--to", pg, "--force")[0] == 0
    password = postgres_url.split(":")[2].split("@")[0]
    assert not any(password in text for text in outputs)
    for location in (pg, s3):
        _assert_no_secret(location, outputs)


def test_push_pull_and_state_commands_without_credentials(
    tmp_path: Path,
    remote: Callable[[str], str],
    cli_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    location = remote("push")
    path = tmp_path / "flowplan.yaml"
    path.write_text(hubspot_manifest("Alpha", "Beta"))
    assert run(capsys, "apply", "-f", str(path), "--state", location, "--auto-approve")[0] == 0
    for name in ("AEP_ACCESS_TOKEN", "AEP_API_KEY", "AEP_ORG_ID", "FLOWPLAN_ENDPOINT"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("FLOWPLAN_STATE", location)  # honoured like --state
    code, out, err = run(capsys, "state", "list", "-f", str(path))
    assert code == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == ["alpha", "beta"]
    code, out, _ = run(capsys, "state", "show", "beta", "-f", str(path))
    assert '"name": "Beta"' in out
    pulled = run(capsys, "state", "pull", "-f", str(path))[1]
    saved = tmp_path / "pulled.json"
    saved.write_text(pulled)
    code, out, err = run(capsys, "state", "rm", "alpha", "-f", str(path))
    assert (code, "still exists" in out) == (0, True), err
    # pushing the older copy back is refused: its serial is not newer
    code, _, err = run(capsys, "state", "push", str(saved), "-f", str(path))
    assert (code, "not newer" in err) == (1, True), err
    other = json.loads(pulled)
    other["lineage"] = "00000000-0000-4000-8000-000000000000"
    other["serial"] += 10
    (tmp_path / "other.json").write_text(json.dumps(other))
    code, _, err = run(capsys, "state", "push", str(tmp_path / "other.json"), "-f", str(path))
    assert (code, "lineage" in err) == (1, True), err
    assert run(capsys, "state", "push", str(saved), "--force", "-f", str(path))[0] == 0
    assert json.loads(run(capsys, "state", "pull", "-f", str(path))[1]) == json.loads(pulled)
    _assert_no_secret(location, [pulled])


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for module in ("flowplan.state.postgres", "flowplan.state.s3"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ConfigError, match=r"pip install 'flowplan\[postgres\]'"):
        open_store("postgresql://u@h/db", tmp_path)
    with pytest.raises(ConfigError, match=r"pip install 'flowplan\[s3\]'"):
        open_store("s3://bucket/key.json", tmp_path)


# --- no secret stored --------------------------------------------------------------------------


def _stored_bytes(location: str) -> list[bytes]:
    """Everything the backend stores for `location`: rows of both tables, or every object."""
    if location.startswith("s3://"):
        import boto3

        bucket = location.removeprefix("s3://").partition("/")[0]
        client = boto3.client("s3")
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys
        return [client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys]
    with psycopg.connect(location.split("?")[0]) as conn:
        rows = [
            *conn.execute("SELECT * FROM flowplan_state").fetchall(),
            *conn.execute("SELECT * FROM flowplan_state_lock").fetchall(),
        ]
    assert rows
    return [repr(row).encode() for row in rows]


def _assert_no_secret(location: str, outputs: list[str]) -> None:
    canaries = [*list(SECRETS.values())[1:], TOKEN]
    if location.startswith("postgresql://"):
        canaries.append(location.split(":")[2].split("@")[0])  # the database password
    stored = _stored_bytes(location)
    for canary in canaries:
        assert not any(canary.encode() in blob for blob in stored), canary
        assert not any(canary in text for text in outputs), canary
