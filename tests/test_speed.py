"""Speed properties that a refactor could silently lose (issue #18): the requests a plan of new
pipelines makes, and what a command imports at start-up. bench/ measures the times."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import HUBSPOT_PARAMS, ORG, ROOT, cli_env, hubspot_manifest, run

from flowplan.emulator import Emulator

PIPELINES = 30


def pipelines(n: int) -> str:
    out = ["version: 1", "sandbox: prod", "connections:"]
    for i in range(n):
        out += [f"  hs-{i}:", "    type: hubspot", f"    name: HubSpot {i}", "    auth:"]
        out.append(HUBSPOT_PARAMS.rstrip("\n"))
    out.append("sources:")
    for i in range(n):
        out += [f"  src-{i}:", f"    connection: hs-{i}", f"    name: Contacts {i}"]
        out.append("    object: Hubspot.Contacts")
    out.append("targets:")
    for i in range(n):
        out += [f"  lake-{i}:", f"    name: Lake {i}", f"    dataset: 6511f0c1a4b2c300{i:08x}"]
        out.append(f"    schema: https://ns.adobe.com/acme/schemas/s{i}")
    out.append("mappings:")
    for i in range(n):
        out += [f"  map-{i}:", f"    schema: https://ns.adobe.com/acme/schemas/s{i}"]
        out.append("    fields: [{source: email, destination: personalEmail.address}]")
    out.append("dataflows:")
    for i in range(n):
        out += [f"  flow-{i}:", f"    name: Hourly {i}", f"    source: src-{i}"]
        out += [f"    target: lake-{i}", f"    mapping: map-{i}"]
        out.append("    deltaColumn: {name: modified, dateFormat: YYYY-MM-DD, timezone: UTC}")
        out.append('    schedule: {frequency: hour, interval: 1, start: "2030-01-01T00:00:00Z"}')
    return "\n".join(out) + "\n"


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "HS_CLIENT_ID": "client-id",
        "HS_CLIENT_SECRET": "CANARY-speed-cs",
        "HS_ACCESS_TOKEN": "CANARY-speed-at",
        "HS_REFRESH_TOKEN": "CANARY-speed-rt",
    }
    cli_env(emulator, monkeypatch, "TOKEN-speed", secrets)


def reads(emulator: Emulator, since: int) -> Counter[str]:
    """GET requests per collection since request number `since`."""
    return Counter(
        r.path.rstrip("/").split("/")[-1] for r in emulator.requests[since:] if r.method == "GET"
    )


@pytest.mark.usefixtures("env")
def test_new_pipelines_names_are_looked_up_in_batches(
    emulator: Emulator, write, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before a create, each kind looks for what an interrupted run may have made, by name:
    one request per kind for 30 new pipelines (`name==a,b,…`), not one per resource."""
    path = write(pipelines(PIPELINES))
    code, out, err = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["summary"]["create"] == 5 * PIPELINES
    got = reads(emulator, 0)
    for collection in ("connections", "sourceConnections", "targetConnections", "flows"):
        assert got[collection] <= 1, got


@pytest.mark.usefixtures("env")
def test_pipelines_whose_state_was_lost_are_adopted_from_batched_lookups(
    emulator: Emulator, write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pipelines(PIPELINES))
    code, _, err = run(capsys, "apply", "-f", str(path), "--auto-approve")
    assert code == 0, err
    path.with_suffix(".state.json").unlink()
    since = len(emulator.requests)
    code, out, err = run(capsys, "plan", "-f", str(path), "--format", "json")
    assert code == 0, err
    summary = json.loads(out)["summary"]
    # mapping sets have no name: each comes back with the dataflow adopted that uses it
    assert summary["adopt"] == 5 * PIPELINES, summary
    assert summary["create"] == 0, summary
    got = reads(emulator, since)
    for collection in ("sourceConnections", "targetConnections", "flows"):
        # one request per adoption round (a source's lookup needs its adopted connection's
        # id, a dataflow's its source's...), however many pipelines: not one per resource
        assert got[collection] <= 5, got


@pytest.mark.usefixtures("env")
def test_managed_resources_are_read_while_references_are_resolved(
    emulator: Emulator, write, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading what the state manages needs no resolved reference: it starts before the
    manifest's references (files, secret stores) are read, and overlaps them."""
    import time

    from flowplan.engine import prepare

    path = write(pipelines(3))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    since = len(emulator.requests)
    resolve = prepare.resolve
    overlapped: list[bool] = []

    def slow_resolve(*args, **kwargs):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not reads(emulator, since)["connections"]:
            time.sleep(0.01)
        overlapped.append(bool(reads(emulator, since)["connections"]))
        return resolve(*args, **kwargs)

    monkeypatch.setattr(prepare, "resolve", slow_resolve)
    code, _, err = run(capsys, "plan", "-f", str(path), "--detailed-exitcode")
    assert code == 0, err
    assert overlapped == [True]


@pytest.mark.usefixtures("env")
def test_a_reference_error_is_reported_without_waiting_for_the_reads(
    emulator: Emulator, write, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads started early must not hold up a failure: a secret that cannot be read is
    reported at once, not after the (here 3 s) answers to reads nobody will look at."""
    import threading
    import time

    path = write(pipelines(2))
    assert run(capsys, "apply", "-f", str(path), "--auto-approve")[0] == 0
    monkeypatch.delenv("HS_CLIENT_SECRET")
    emulator.config.latency_ms = 3000
    start = time.monotonic()
    code, _, err = run(capsys, "plan", "-f", str(path))
    elapsed = time.monotonic() - start
    assert code == 1
    assert "HS_CLIENT_SECRET" in err
    assert elapsed < 2.5, f"the error waited {elapsed:.1f} s for the reads"
    # The abandoned reads end with their answers; wait for them here, so that nothing of this
    # test (a retry warning, say) reaches the next one's output.
    for thread in threading.enumerate():
        if thread.name.startswith("flowplan-read"):
            thread.join(10)


def imported_after(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded by `flowplan ARGS` run in a fresh interpreter."""
    code = (
        "import sys, json\nfrom flowplan.cli import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "NO_COLOR": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        },
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_validate_loads_no_http_client_and_version_no_command(write) -> None:
    """A command imports what it uses: start-up is most of a small run's time."""
    path = write(hubspot_manifest("Speed"))
    validate = imported_after(["validate", "-f", str(path)], path.parent)
    assert "flowplan.cli.validate" in validate
    assert not {"requests", "urllib3", "filelock", "flowplan.flowservice.client"} & validate
    version = imported_after(["--version"], path.parent)
    assert not {m for m in version if m.startswith("flowplan.cli.") and m != "flowplan.cli.common"}


def test_plan_loads_no_apply_machinery(emulator: Emulator, write) -> None:
    """A plan takes no lock and applies nothing: no filelock, applier, state writer, signal
    handling, nor PyYAML (the manifest here takes the fast YAML path)."""
    path = write(hubspot_manifest("Speed"))
    env = {
        "FLOWPLAN_ENDPOINT": emulator.flow_url,
        "FLOWPLAN_IMS_ENDPOINT": emulator.ims_url,
        "AEP_ACCESS_TOKEN": "TOKEN-speed",
        "AEP_API_KEY": "flowplan-tests",
        "AEP_ORG_ID": ORG,
        **{f"HS_{name}": "value" for name in ("CLIENT_ID", "CLIENT_SECRET", "ACCESS_TOKEN")},
        "HS_REFRESH_TOKEN": "value",
    }
    plan = imported_after(["plan", "-f", str(path)], path.parent, env)
    assert "flowplan.engine.planner" in plan
    unused = {
        "filelock",
        "yaml",
        "flowplan.engine.applier",
        "flowplan.state.writer",
        "flowplan.cli.signals",
    }
    assert not unused & plan


def test_recording_a_change_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    """The batched state writer copies the entries under its lock and writes outside it: a
    worker recording a success is not held up by a save in progress (a 10,000-entry state
    takes ~0.5 s to write), and what it recorded meanwhile is in the next save."""
    import threading
    import time

    from flowplan.model import Address
    from flowplan.state.file import StateStore
    from flowplan.state.model import StateEntry
    from flowplan.state.writer import StateWriter

    store = StateStore(tmp_path / "state.json")
    state = store.load(ORG, "prod")
    writing, release = threading.Event(), threading.Event()
    save = store.save

    def slow_save(snapshot):  # type: ignore[no-untyped-def]
        writing.set()
        release.wait(5)
        save(snapshot)

    store.save = slow_save  # type: ignore[method-assign]
    writer = StateWriter(store, state)
    writer.record(Address("connection", "a"), StateEntry("id-a", '"1"', {"name": "a"}))
    flushing = threading.Thread(target=writer.flush)
    flushing.start()
    assert writing.wait(5)
    start = time.monotonic()
    writer.record(Address("connection", "b"), StateEntry("id-b", '"1"', {"name": "b"}))
    waited = time.monotonic() - start
    release.set()
    flushing.join()
    writer.close()
    assert waited < 0.5, f"record() waited {waited:.2f} s for the save in progress"
    saved = json.loads((tmp_path / "state.json").read_text())
    assert set(saved["connections"]) == {"a", "b"}
    assert saved["serial"] == state.serial == 2


def test_the_apply_graph_schedules_10000_changes_in_linear_time() -> None:
    """Picking the next ready step is a heap pop, not a re-sort of every ready step after each
    completion (which made an apply of 10,000 changes quadratic: minutes of CPU)."""
    import threading
    import time

    from flowplan.engine.graph import Step, run_graph
    from flowplan.model import Address

    steps = [Step(Address("connection", f"c-{i:05d}"), "apply") for i in range(10_000)]
    graph = {step: set() for step in steps}
    graph[steps[0]] = {steps[-1]}  # one dependency: the order still follows the graph
    seen: list[Step] = []
    start = time.process_time()
    outcome = run_graph(graph, lambda step: seen.append(step) or True, 1, threading.Event())
    spent = time.process_time() - start
    assert len(outcome.done) == 10_000
    assert seen[:2] == [steps[1], steps[2]]
    assert seen.index(steps[0]) > seen.index(steps[-1])
    assert spent < 4, f"{spent:.1f} s of CPU to schedule 10,000 steps"
