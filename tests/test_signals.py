"""Ctrl-C and SIGTERM during a real `python -m flowplan apply` (issue #12).

The first signal stops new changes from starting, lets the in-flight ones finish, records every
success, prints the summary and exits 130 (143 for SIGTERM). A second Ctrl-C exits at once; the
next apply finds what it cut short: zero duplicates, zero lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import HUBSPOT_PARAMS, ORG
from test_reliability import record

from flowplan.emulator import Emulator
from flowplan.state.file import StateStore

API_KEY = "flowplan-signals"
COUNT = 60
PARALLELISM = 4
SECRETS = {
    "HS_CLIENT_ID": "client-1",
    "HS_CLIENT_SECRET": "CANARY-sig-cs-71",
    "HS_ACCESS_TOKEN": "CANARY-sig-at-72",
    "HS_REFRESH_TOKEN": "CANARY-sig-rt-73",
}


def manifest(count: int) -> str:
    lines = ["version: 1", "sandbox: prod", "connections:"]
    for i in range(count):
        lines += [f"  c{i}:", "    type: hubspot", f"    name: Conn {i}", "    auth:"]
        lines.append(HUBSPOT_PARAMS.rstrip("\n"))
    return "\n".join(lines) + "\n"


@dataclass
class Stopped:
    code: int
    out: str
    err: str
    created_before: int  # connections that existed when the first signal was sent (the
    # emulator makes one when its request arrives: the creates in flight are among them)
    seconds: float  # from the first signal to the exit


def env_for(emu: Emulator) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPLAN_ENDPOINT": emu.flow_url,
        "AEP_ACCESS_TOKEN": "TOKEN-sig-canary",
        "AEP_API_KEY": API_KEY,
        "AEP_ORG_ID": ORG,
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",
        **SECRETS,
    }


def apply(path: Path, emu: Emulator) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "flowplan", "apply", "-f", str(path), "--auto-approve"]
    return subprocess.run(
        argv, env=env_for(emu), capture_output=True, text=True, timeout=300, check=False
    )


def apply_and_signal(
    path: Path, emu: Emulator, signals: list[int], gap: float, wait: float
) -> Stopped:
    """Start an apply, wait `wait` s after its first finished change (the next ones are then in
    flight), then send `signals`, `gap` apart."""
    argv = [sys.executable, "-m", "flowplan", "apply", "-f", str(path), "--auto-approve"]
    argv += ["--parallelism", str(PARALLELISM)]
    proc = subprocess.Popen(
        argv, env=env_for(emu), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    seen: list[str] = []
    planned = False
    for line in proc.stdout:
        seen.append(line)
        planned = planned or line.startswith("Plan: ")
        if planned and line.startswith("+ created connection."):
            break
    time.sleep(wait)
    created_before = len(emu.connections(ORG, "prod"))
    started = time.monotonic()
    for i, signum in enumerate(signals):
        if i:
            time.sleep(gap)
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    seconds = time.monotonic() - started
    return Stopped(proc.returncode, "".join(seen) + out, err, created_before, seconds)


def ours(emu: Emulator) -> set[str]:
    return {c["id"] for c in emu.connections(ORG, "prod") if c["createdClient"] == API_KEY}


def recorded(path: Path) -> dict[str, str]:
    state = StateStore(path.with_suffix(".state.json")).load(ORG, "prod")
    return {key: entry.id for key, entry in state.connections.items()}


def assert_converges(path: Path, emu: Emulator) -> None:
    """The next apply finishes the job: every key recorded once, no connection of ours left
    unrecorded (zero duplicates), none recorded that is gone (zero lost)."""
    again = apply(path, emu)
    assert again.returncode == 0, again.stderr[-2000:]
    ids = recorded(path)
    assert sorted(ids) == sorted(f"c{i}" for i in range(COUNT))
    assert set(ids.values()) == ours(emu)
    assert len(ours(emu)) == COUNT


@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_a_signal_stops_new_changes_records_every_success_and_exits(
    tmp_path: Path, signum: int, code: int, name: str
) -> None:
    path = tmp_path / "flowplan.yaml"
    path.write_text(manifest(COUNT))
    # The emulator makes a connection when the request arrives, so `created_before` already
    # holds the creates in flight. Long answers keep every worker waiting on one of those
    # when the signal comes, bar one that is between two steps (rare: ~2 ms of its 400).
    with Emulator(latency_ms=400) as emu:
        stopped = apply_and_signal(path, emu, [signum], 0, 0.03)
        assert stopped.code == code, stopped.err[-2000:]
        assert "Interrupted: no new change will start" in stopped.err
        assert f"Apply stopped by {name}:" in stopped.err
        assert "Apply complete: " in stopped.out  # the summary is printed
        assert "Traceback" not in stopped.err
        assert stopped.seconds < 10
        created = ours(emu)
        # nothing started after the signal (a step begun just before it may land after it;
        # a worker that went on would add one create per worker)
        late = len(created) - stopped.created_before
        assert 0 <= late <= PARALLELISM // 2, late
        assert len(created) < COUNT
        # every success is recorded, the ones in flight at the signal included, and the
        # summary counts exactly those
        assert set(recorded(path).values()) == created
        assert f"Apply complete: {len(created)} created," in stopped.out
        written = stopped.out + stopped.err + path.with_suffix(".state.json").read_text()
        for name, secret in SECRETS.items():
            assert name == "HS_CLIENT_ID" or secret not in written
        assert_converges(path, emu)
    record(
        "signals",
        interrupted_applies=1,
        creates_arriving_after_the_signal=late,
        duplicates=0,
        lost=0,
    )


def test_a_second_ctrl_c_exits_at_once_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "flowplan.yaml"
    path.write_text(manifest(COUNT))
    with Emulator(latency_ms=400) as emu:
        stopped = apply_and_signal(path, emu, [signal.SIGINT, signal.SIGINT], 0.05, 0.2)
        assert stopped.code == 130, stopped.err[-2000:]
        assert "Stopping now; what finished is recorded." in stopped.err
        assert stopped.seconds < 0.3  # did not wait for the requests in flight (0.4 s each)
        assert "Traceback" not in stopped.err
        time.sleep(0.5)  # the requests in flight are answered (they landed when they arrived)
        # what was cut short may be unrecorded; the next apply finds it by name
        cut_short = ours(emu) - set(recorded(path).values())
        assert cut_short  # the creates in flight landed, unrecorded: the next apply adopts them
        assert set(recorded(path).values()) <= ours(emu)
        assert_converges(path, emu)
    record("signals", double_ctrl_c=1, cut_short_then_adopted=len(cut_short), duplicates=0, lost=0)


SAVE_INTERRUPTED = """
import os, signal, sys, time
from pathlib import Path
from flowplan.cli.signals import interruptible
from flowplan.model import Address
from flowplan.state.file import StateStore
from flowplan.state.model import State, StateEntry
from flowplan.state.writer import StateWriter


class SlowStore(StateStore):
    def save(self, state):
        # both signals arrive while this thread is inside a save
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(60)


writer = StateWriter(SlowStore(Path(sys.argv[1])), State.new("o", "prod"))
writer.record(Address("connection", "a"), StateEntry("id-a", "e", {}))
with interruptible(writer):
    writer.flush()
"""


def test_a_second_signal_during_a_save_in_the_same_thread_still_exits(tmp_path: Path) -> None:
    """The handler's own flush must not wait for the save it interrupted (it would wait
    forever: the lock is held by the very thread the handler runs in)."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SAVE_INTERRUPTED, str(tmp_path / "s.json")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 130, done.stderr[-500:]
    assert time.monotonic() - start < 15
    assert "Stopping now" in done.stderr
