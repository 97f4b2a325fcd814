"""`make bench`: flowplan's speed at scale, side by side with a straightforward aepp script.

The emulator runs in this process with --latency-ms 20 standing for the network to Adobe;
flowplan and the aepp script each run as a child process, measured by bench/measure.py
(wall, CPU, peak RSS). Set-up applies run with no latency and are not measured. Writes
bench/results.md (bench/report.py renders it and checks the targets).

    python bench/run.py [--sizes 1000,2000,5000,10000] [--pipelines 500] [--latency-ms 20]
                        [--repeat 3] [--out bench/results.md]

Each job runs --repeat times, flowplan's and aepp's runs alternating, and the fastest run of
each counts: the machine is shared, and a slower run was slowed by the others' load, not by
the tool (every run's wall time is kept in results.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import manifests  # noqa: E402
import report  # noqa: E402

from flowplan.emulator import Emulator  # noqa: E402
from flowplan.state.file import StateStore  # noqa: E402

PYTHON = sys.executable
FLOWPLAN = [PYTHON, "-m", "flowplan"]
APPLY_CONNECTIONS = 300
APPLY_PIPELINES = 100
Row = dict[str, Any]
PYCACHE = tempfile.mkdtemp(prefix="flowplan-bench-pycache-")


def measure(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, str(HERE / "measure.py"), *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs of one job, with every run's wall time."""
    best = dict(min(runs, key=lambda run: run["wall_s"]))
    best["walls_s"] = [round(run["wall_s"], 3) for run in runs]
    return best


def cpu_probe() -> float:
    """Seconds for a fixed pure-Python loop, best of 3: how fast this shared machine was
    around the runs (it varies by up to ~2x here from one minute to the next)."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        sum(range(10_000_000))
        best = min(best, time.perf_counter() - start)
    return best


def python_env() -> dict[str, str]:
    """As an installed program runs: with compiled bytecode. pip compiles a wheel's modules at
    install (site-packages, aepp included, has them); this tree's modules would otherwise be
    compiled from source on every run where PYTHONDONTWRITEBYTECODE is set. The bytecode goes
    to a private folder (PYTHONPYCACHEPREFIX), filled by warm_up()."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": PYCACHE, "PYTHONPATH": str(HERE.parent)}


def flowplan_env(emu: Emulator, org: str) -> dict[str, str]:
    return {
        **python_env(),  # this tree's flowplan, wherever the venv points
        "FLOWPLAN_ENDPOINT": emu.flow_url,
        "FLOWPLAN_IMS_ENDPOINT": emu.ims_url,
        "AEP_ACCESS_TOKEN": "bench",
        "AEP_API_KEY": "flowplan-bench",
        "AEP_ORG_ID": org,
        "HS_CLIENT_ID": manifests.HUBSPOT_CREDENTIALS["clientId"],
        "HS_CLIENT_SECRET": manifests.HUBSPOT_CREDENTIALS["clientSecret"],
        "HS_ACCESS_TOKEN": manifests.HUBSPOT_CREDENTIALS["accessToken"],
        "HS_REFRESH_TOKEN": manifests.HUBSPOT_CREDENTIALS["refreshToken"],
        "NO_COLOR": "1",
    }


def have_aepp() -> bool:
    return (
        subprocess.run([PYTHON, "-c", "import aepp"], capture_output=True, check=False).returncode
        == 0
    )


def aepp(emu: Emulator, env: dict[str, str], work: Path, *args: str) -> dict[str, Any]:
    job, org, *rest = args
    command = [PYTHON, str(HERE / "aepp_jobs.py"), job, emu.base_url, emu.ims_url, org, *rest]
    return measure(command, env, work)


def set_up(emu: Emulator, env: dict[str, str], path: Path, work: Path, latency: int) -> None:
    """Apply the manifest with no latency (not measured), so that a plan finds it all."""
    emu.config.latency_ms = 0
    setup = subprocess.run(
        [*FLOWPLAN, "apply", "-f", str(path), "--auto-approve", "--parallelism", "16"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    emu.config.latency_ms = latency
    if setup.returncode != 0:
        raise SystemExit(f"set-up apply of {path.name} failed: {setup.stderr[-500:]}")


def plan_empty(emu: Emulator, env: dict[str, str], path: Path, work: Path) -> dict[str, Any]:
    before = len(emu.requests)
    plan = measure([*FLOWPLAN, "plan", "-f", str(path), "--detailed-exitcode"], env, work)
    plan["requests"] = len(emu.requests) - before
    if plan["code"] != 0:
        raise SystemExit(f"plan of {path.name} was not empty: {plan}")
    return plan


def bench_size(
    emu: Emulator, n: int, work: Path, latency: int, startup: float, with_aepp: bool, repeat: int
) -> dict[str, Any]:
    org = f"BENCH{n}@AdobeOrg"
    path = work / f"n{n}.yaml"
    path.write_text(manifests.connections(n, "Conn"))
    row: dict[str, Any] = {"n": n}
    row |= plan_side_by_side(emu, org, path, work, latency, "list" if with_aepp else "", repeat)
    row["plan_limit_s"] = math.ceil(n / 100) / 8 * latency / 1000 + startup
    store = StateStore(path.with_suffix(".state.json"))
    state = store.load(org, "prod")
    start = time.perf_counter()
    store.save(state)
    row["state_write_s"] = time.perf_counter() - start
    row["state_bytes"] = path.with_suffix(".state.json").stat().st_size
    return row


def plan_side_by_side(
    emu: Emulator, org: str, path: Path, work: Path, latency: int, aepp_job: str, repeat: int
) -> Row:
    """validate; the set-up apply; then the plan of no changes and aepp's listing (`aepp_job`,
    none when empty), alternating."""
    env = flowplan_env(emu, org)
    validate = [*FLOWPLAN, "validate", "-f", str(path)]
    row: Row = {"validate": fastest([measure(validate, env, work) for _ in range(repeat)])}
    set_up(emu, env, path, work, latency)
    plans, listings = [], []
    for _ in range(repeat):
        plans.append(plan_empty(emu, env, path, work))
        if aepp_job:
            listings.append(aepp(emu, env, work, aepp_job, org))
    row["plan"] = fastest(plans)
    if aepp_job:
        row["aepp_list"] = fastest(listings)
    return row


def apply_side_by_side(
    emu: Emulator, work: Path, text: str, name: str, aepp_job: str, count: int, repeat: int
) -> Row:
    """flowplan's apply of `text` and aepp's creating job (none when empty), alternating; each
    run creates its resources in an org of its own."""
    applies, creates = [], []
    row: Row = {}
    for run in range(repeat):
        env = flowplan_env(emu, f"{name.upper()}{run}@AdobeOrg")
        path = work / f"{name}-{run}.yaml"
        path.write_text(text)
        before = len(emu.requests)
        applies.append(measure([*FLOWPLAN, "apply", "-f", str(path), "--auto-approve"], env, work))
        row["requests"] = len(emu.requests) - before
        if applies[-1]["code"] != 0:
            raise SystemExit(f"apply of {path.name} failed: {applies[-1]}")
        row["state_writes"] = json.loads(path.with_suffix(".state.json").read_text())["serial"]
        if aepp_job:
            org = f"{name.upper()}AEPP{run}@AdobeOrg"
            creates.append(aepp(emu, env, work, aepp_job, org, str(count), "New"))
    row["flowplan"] = fastest(applies)
    if aepp_job:
        row["aepp"] = fastest(creates)
    return row


def bench_apply(emu: Emulator, work: Path, latency: int, with_aepp: bool, repeat: int) -> Row:
    count = APPLY_CONNECTIONS
    emu.config.latency_ms = latency
    row: Row = {"count": count, "limit_s": count * latency / 1000 / 8}
    text = manifests.connections(count, "New")
    job = "create" if with_aepp else ""
    return row | apply_side_by_side(emu, work, text, "apply", job, count, repeat)


def bench_pipelines(
    emu: Emulator, n: int, work: Path, latency: int, with_aepp: bool, repeat: int
) -> dict[str, Any]:
    """Plan of n whole pipelines over an applied sandbox; apply of 100 new pipelines."""
    path = work / f"pipelines{n}.yaml"
    path.write_text(manifests.pipelines(n, "Pipe"))
    row: Row = {"n": n, "resources": n * manifests.KINDS_PER_PIPELINE}
    listing = "pipelines-list" if with_aepp else ""
    row |= plan_side_by_side(emu, f"PIPES{n}@AdobeOrg", path, work, latency, listing, repeat)
    count = row["apply_count"] = APPLY_PIPELINES
    text = manifests.pipelines(count, "New")
    job = "pipelines-create" if with_aepp else ""
    runs = apply_side_by_side(emu, work, text, "pipeapply", job, count, repeat)
    row["apply"], row["apply_requests"] = runs["flowplan"], runs["requests"]
    if with_aepp:
        row["aepp_create"] = runs["aepp"]
    return row


def diff_cost(work: Path, pipelines: int) -> dict[str, Any] | None:
    env = python_env()
    out = subprocess.run(
        [PYTHON, str(HERE / "diffcost.py"), str(pipelines)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:  # deepdiff not installed: `make bench` installs it
        print(f"diff cost not measured: {out.stderr.strip()[-200:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def warm_up(emu: Emulator, work: Path, latency: int, with_aepp: bool) -> None:
    """One unmeasured run of each tool (bytecode written, files cached), as a second run."""
    org = "WARMUP@AdobeOrg"
    env = flowplan_env(emu, org)
    path = work / "warmup.yaml"
    path.write_text(manifests.pipelines(2, "Warm"))
    subprocess.run([*FLOWPLAN, "validate", "-f", str(path)], env=env, cwd=work, check=True,
                   capture_output=True)  # fmt: skip
    set_up(emu, env, path, work, latency)
    plan_empty(emu, env, path, work)
    if with_aepp:
        aepp(emu, env, work, "pipelines-list", org)
        aepp(emu, env, work, "pipelines-create", "WARMAEPP@AdobeOrg", "1", "Warm")
    subprocess.run([PYTHON, str(HERE / "diffcost.py"), "1"], env=env, cwd=work,
                   capture_output=True, check=False)  # fmt: skip


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,2000,5000,10000")
    parser.add_argument("--pipelines", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--repeat", type=_at_least_one, default=3, help="runs of each job; the fastest counts"
    )
    parser.add_argument("--out", default=str(HERE / "results.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with_aepp = have_aepp()
    results: dict[str, Any] = {"args": vars(args), "aepp": with_aepp}
    with tempfile.TemporaryDirectory() as folder, Emulator() as emu:
        work = Path(folder)
        warm_up(emu, work, args.latency_ms, with_aepp)
        results["cpu_probe_s"] = [cpu_probe()]
        env = python_env()
        results["startup_s"] = min(
            measure([*FLOWPLAN, "--version"], env, work)["wall_s"] for _ in range(3)
        )
        results["sizes"] = []
        for n in sizes:
            results["sizes"].append(
                bench_size(
                    emu, n, work, args.latency_ms, results["startup_s"], with_aepp, args.repeat
                )
            )
            print(f"N={n}: plan {results['sizes'][-1]['plan']['wall_s']:.2f} s", flush=True)
        results["apply"] = bench_apply(emu, work, args.latency_ms, with_aepp, args.repeat)
        print(f"apply {APPLY_CONNECTIONS}: {results['apply']['flowplan']['wall_s']:.2f} s")
        if args.pipelines:
            results["pipelines"] = bench_pipelines(
                emu, args.pipelines, work, args.latency_ms, with_aepp, args.repeat
            )
            print(f"pipelines: plan {results['pipelines']['plan']['wall_s']:.2f} s", flush=True)
        results["diff"] = diff_cost(work, args.pipelines or 500)
        results["cpu_probe_s"].append(cpu_probe())
    text = report.render(results)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    finally:  # the bytecode folder is this run's, whatever happens to the run
        shutil.rmtree(PYCACHE, ignore_errors=True)
