"""SIGKILL during applies that re-create and replace (issue #12): zero duplicates, zero lost.

Each trial changes the world first: connections of the state deleted out of band (re-creates),
auth specs switched (replaces: delete, then create), descriptions edited (updates); then an
apply is SIGKILLed: in odd trials at a random moment, in even ones while a create the server has
committed waits for its (slowed) answer, the window a killed re-create used to leave a
duplicate in. A last apply must converge: every key recorded once,
every record pointing at a connection that exists and matches, no connection flowplan created
left untracked, and the next plan empty. `make test` runs 4 trials, `make soak` 30.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import HUBSPOT_PARAMS, ORG
from test_reliability import record

from flowplan.emulator import Emulator, Fault
from flowplan.emulator.store import Caller
from flowplan.state.file import StateStore

API_KEY = "flowplan-kill"
HUBSPOT = 14
DYNAMICS = 6
BASIC_SPEC = "Basic Authentication for Dynamics-Online"
PRINCIPAL_SPEC = "Service Principal Key Based Authentication"
SECRETS = {
    "HS_CLIENT_ID": "client-1",
    "HS_CLIENT_SECRET": "CANARY-kill-cs-81",
    "HS_ACCESS_TOKEN": "CANARY-kill-at-82",
    "HS_REFRESH_TOKEN": "CANARY-kill-rt-83",
    "DYN_PASSWORD": "CANARY-kill-dyn-84",
    "DYN_KEY": "CANARY-kill-dyn-85",
}


@dataclass
class World:
    """What the manifest declares: a description per key, an auth spec per Dynamics key."""

    descriptions: dict[str, str]
    principal: dict[str, bool]

    def manifest(self) -> str:
        lines = ["version: 1", "sandbox: prod", "connections:"]
        for i in range(HUBSPOT):
            key = f"h{i}"
            lines += [f"  {key}:", "    type: hubspot", f"    name: HubSpot {i}"]
            lines += [f"    description: {self.descriptions[key]}", "    auth:"]
            lines.append(HUBSPOT_PARAMS.rstrip("\n"))
        for i in range(DYNAMICS):
            key = f"d{i}"
            lines += [f"  {key}:", "    type: microsoft-dynamics", f"    name: Dynamics {i}"]
            lines += [f"    description: {self.descriptions[key]}", "    auth:"]
            if self.principal[key]:
                lines += [
                    f"      specName: {PRINCIPAL_SPEC}",
                    '      params: {serviceUri: "https://x.example", servicePrincipalId: sp, '
                    'servicePrincipalKey: "${env:DYN_KEY}"}',
                ]
            else:
                lines.append(
                    '      params: {serviceUri: "https://x.example", username: u, '
                    'password: "${env:DYN_PASSWORD}"}'
                )
        return "\n".join(lines) + "\n"

    def keys(self) -> list[str]:
        return sorted(self.descriptions)


def child_env(emu: Emulator) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPLAN_ENDPOINT": emu.flow_url,
        "AEP_ACCESS_TOKEN": "TOKEN-kill-canary",
        "AEP_API_KEY": API_KEY,
        "AEP_ORG_ID": ORG,
        "FLOWPLAN_BACKOFF": "0.05",
        "NO_COLOR": "1",
        **SECRETS,
    }


def flowplan(emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowplan", *args],
        env=child_env(emu),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def change_the_world(
    rng: random.Random, world: World, emu: Emulator, path: Path, trial: int
) -> tuple[int, int]:
    """Out-of-band deletes and manifest edits; returns (re-creates, replaces) asked for."""
    state = StateStore(path.with_suffix(".state.json")).load(ORG, "prod")
    recorded = sorted(state.connections.items())
    gone = rng.sample(recorded, k=min(len(recorded), rng.randint(1, 4)))
    for _, entry in gone:
        emu.store.delete(Caller(ORG, "prod", "someone-else"), entry.id)
    switched = rng.sample(sorted(world.principal), k=rng.randint(1, 3))
    for key in switched:
        world.principal[key] = not world.principal[key]
    for key in rng.sample(world.keys(), k=4):
        world.descriptions[key] = f"edited in trial {trial}"
    path.write_text(world.manifest())
    return len(gone), len(switched)


def check_converged(emu: Emulator, world: World, path: Path) -> None:
    state = StateStore(path.with_suffix(".state.json")).load(ORG, "prod")
    remote = {c["id"]: c for c in emu.connections(ORG, "prod")}
    assert sorted(state.connections) == world.keys()  # zero lost records
    for key, entry in state.connections.items():
        assert entry.id in remote, f"{key}: the state points at a missing connection"
        conn = remote[entry.id]
        assert conn["description"] == world.descriptions[key]
        assert conn["etag"] == entry.etag
        if key in world.principal:
            wanted = PRINCIPAL_SPEC if world.principal[key] else BASIC_SPEC
            assert conn["auth"]["specName"] == wanted
    managed = {e.id for e in state.connections.values()}
    untracked = [i for i, c in remote.items() if c["createdClient"] == API_KEY and i not in managed]
    assert untracked == []  # zero duplicates
    plan = flowplan(emu, "plan", "-f", str(path), "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-2000:]


def wait_for_a_create(emu: Emulator, since: int, timeout: float = 10.0) -> int:
    """Wait until the server has committed a POST made after request number `since` (every
    POST here is a re-create or a replace's create); 1 if one came, 0 on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.method == "POST" for r in emu.requests[since:]):
            return 1
        time.sleep(0.005)
    return 0


def _kill_trials(tmp_path: Path, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    world = World(
        descriptions={k: "first" for k in [f"h{i}" for i in range(HUBSPOT)]}
        | {f"d{i}": "first" for i in range(DYNAMICS)},
        principal={f"d{i}": False for i in range(DYNAMICS)},
    )
    path = tmp_path / "flowplan.yaml"
    path.write_text(world.manifest())
    apply = ["apply", "-f", str(path), "--auto-approve", "--parallelism", "4"]
    recreates = replaces = aimed = 0
    with Emulator(latency_ms=25) as emu:
        first = flowplan(emu, *apply)
        assert first.returncode == 0, first.stderr[-2000:]
        for trial in range(trials):
            gone, switched = change_the_world(rng, world, emu, path, trial)
            recreates += gone
            replaces += switched
            since = len(emu.requests)
            if not trial % 2:  # a create commits, its answer is slow: kill before it is recorded
                emu.push_fault(Fault("slow", delay=3.0, method="POST"))
            proc = subprocess.Popen(
                [sys.executable, "-m", "flowplan", *apply],
                env=child_env(emu),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if trial % 2:
                time.sleep(rng.uniform(0.4, 1.6))  # anywhere
            else:
                aimed += wait_for_a_create(emu, since)
                time.sleep(rng.uniform(0, 0.3))
            proc.send_signal(signal.SIGKILL)
            emu.clear_faults()
            proc.wait()
            time.sleep(0.1)  # what the killed process had in flight lands on the server
            final = flowplan(emu, *apply)
            assert final.returncode == 0, (trial, final.stderr[-2000:])
            check_converged(emu, world, path)
    record(
        "kills",
        trials=trials,
        kills=trials,
        kills_just_after_a_create=aimed,
        re_creates=recreates,
        replaces=replaces,
        duplicates=0,
        lost=0,
    )


def test_sigkill_during_re_creates_and_replaces(tmp_path: Path) -> None:
    _kill_trials(tmp_path, trials=4, seed=3)


@pytest.mark.soak
def test_soak_sigkill_during_re_creates_and_replaces(tmp_path: Path) -> None:
    _kill_trials(tmp_path, trials=30, seed=30)
