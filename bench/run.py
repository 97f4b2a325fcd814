"""`make bench`: flowplan's speed at scale, side by side with a straightforward aepp script.

The emulator runs in this process with --latency-ms 20 standing for the network to Adobe;
flowplan and the aepp script each run as a child process, measured by bench/measure.py
(wall, CPU, peak RSS). Writes bench/results.md.

    python bench/run.py [--sizes 100,1000,2000,10000] [--latency-ms 20] [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flowplan.emulator import Emulator
from flowplan.state.file import StateStore

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
FLOWPLAN = [PYTHON, "-m", "flowplan"]
PARAMS = """\
      params:
        clientId: ${env:HS_CLIENT_ID}
        clientSecret: ${env:HS_CLIENT_SECRET}
        accessToken: ${env:HS_ACCESS_TOKEN}
        refreshToken: ${env:HS_REFRESH_TOKEN}
"""


def manifest(n: int, prefix: str) -> str:
    parts = ["version: 1\nsandbox: prod\nconnections:\n"]
    for i in range(n):
        parts.append(f"  c-{i}:\n    type: hubspot\n    name: {prefix} {i}\n    auth:\n{PARAMS}")
    return "".join(parts)


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


def flowplan_env(emu: Emulator, org: str) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPLAN_ENDPOINT": emu.flow_url,
        "FLOWPLAN_IMS_ENDPOINT": emu.ims_url,
        "AEP_ACCESS_TOKEN": "bench",
        "AEP_API_KEY": "flowplan-bench",
        "AEP_ORG_ID": org,
        "HS_CLIENT_ID": "c",
        "HS_CLIENT_SECRET": "s",
        "HS_ACCESS_TOKEN": "a",
        "HS_REFRESH_TOKEN": "r",
        "NO_COLOR": "1",
    }


def have_aepp() -> bool:
    return (
        subprocess.run([PYTHON, "-c", "import aepp"], capture_output=True, check=False).returncode
        == 0
    )


def bench_size(
    emu: Emulator, n: int, work: Path, latency: int, startup: float, aepp: bool
) -> dict[str, Any]:
    org = f"BENCH{n}@AdobeOrg"
    env = flowplan_env(emu, org)
    path = work / f"n{n}.yaml"
    path.write_text(manifest(n, "Conn"))
    row: dict[str, Any] = {"n": n}
    row["validate"] = measure([*FLOWPLAN, "validate", "-f", str(path)], env, work)
    emu.config.latency_ms = 0  # set-up is not measured
    setup = subprocess.run(
        [*FLOWPLAN, "apply", "-f", str(path), "--auto-approve", "--parallelism", "16"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        raise SystemExit(f"set-up apply of {n} failed: {setup.stderr[-500:]}")
    emu.config.latency_ms = latency
    before = len(emu.requests)
    plan = measure([*FLOWPLAN, "plan", "-f", str(path), "--detailed-exitcode"], env, work)
    plan["requests"] = len(emu.requests) - before
    if plan["code"] != 0:
        raise SystemExit(f"plan of {n} was not empty: {plan}")
    row["plan"] = plan
    row["plan_limit_s"] = math.ceil(n / 100) * latency / 1000 + startup
    if aepp:
        row["aepp_list"] = measure(
            [PYTHON, str(HERE / "aepp_jobs.py"), "list", emu.base_url, emu.ims_url, org], env, work
        )
    store = StateStore(path.with_suffix(".state.json"))
    state = store.load(org, "prod")
    start = time.perf_counter()
    store.save(state)
    row["state_write_s"] = time.perf_counter() - start
    row["state_bytes"] = path.with_suffix(".state.json").stat().st_size
    return row


def bench_apply(emu: Emulator, work: Path, latency: int, aepp: bool) -> dict[str, Any]:
    count, org = 300, "BENCHAPPLY@AdobeOrg"
    env = flowplan_env(emu, org)
    path = work / "apply300.yaml"
    path.write_text(manifest(count, "New"))
    emu.config.latency_ms = latency
    row: dict[str, Any] = {"count": count, "limit_s": count * latency / 1000 / 8}
    row["flowplan"] = measure([*FLOWPLAN, "apply", "-f", str(path), "--auto-approve"], env, work)
    state = json.loads(path.with_suffix(".state.json").read_text())
    row["state_writes"] = state["serial"]
    if aepp:
        row["aepp"] = measure(
            [
                PYTHON,
                str(HERE / "aepp_jobs.py"),
                "create",
                emu.base_url,
                emu.ims_url,
                "BENCHAEPP@AdobeOrg",
                str(count),
                "New",
            ],
            env,
            work,
        )
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,2000,10000")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--out", default=str(HERE / "results.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    aepp = have_aepp()
    with tempfile.TemporaryDirectory() as folder, Emulator() as emu:
        work = Path(folder)
        startup = measure([*FLOWPLAN, "--version"], dict(os.environ), work)["wall_s"]
        rows = []
        for n in sizes:
            rows.append(bench_size(emu, n, work, args.latency_ms, startup, aepp))
            print(f"N={n}: plan {rows[-1]['plan']['wall_s']:.2f} s", flush=True)
        applied = bench_apply(emu, work, args.latency_ms, aepp)
    report = render(rows, applied, startup, args, aepp)
    Path(args.out).write_text(report)
    print(report)
    return 0


def render(
    rows: list[dict[str, Any]],
    applied: dict[str, Any],
    startup: float,
    args: argparse.Namespace,
    aepp: bool,
) -> str:
    lines = [
        "# flowplan benchmarks",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}",
        f"- command: `python bench/run.py --sizes {args.sizes} --latency-ms {args.latency_ms}` "
        "(`make bench`)",
        f"- the emulator answers every request after {args.latency_ms} ms (the network to "
        f"Adobe); flowplan start-up (`flowplan --version`): {startup:.2f} s",
        "",
        "## plan over an applied manifest (no changes) and validation",
        "",
        "| N | plan wall s | physical limit s | plan requests | ceil(N/100)+5 | plan CPU s | "
        "peak RSS MB | aepp list wall s | plan / aepp | validate wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["plan"]
        a = r.get("aepp_list")
        ratio = f"{p['wall_s'] / a['wall_s']:.2f}" if a else "n/a"
        lines.append(
            f"| {r['n']:,} | {p['wall_s']:.2f} | {r['plan_limit_s']:.2f} | {p['requests']} | "
            f"{math.ceil(r['n'] / 100) + 5} | {p['cpu_s']:.2f} | {p['peak_rss_mb']:.0f} | "
            f"{a['wall_s']:.2f} | {ratio} | {r['validate']['wall_s']:.2f} |"
            if a
            else f"| {r['n']:,} | {p['wall_s']:.2f} | {r['plan_limit_s']:.2f} | {p['requests']} | "
            f"{math.ceil(r['n'] / 100) + 5} | {p['cpu_s']:.2f} | {p['peak_rss_mb']:.0f} | n/a | "
            f"n/a | {r['validate']['wall_s']:.2f} |"
        )
    lines += [
        "",
        "State file write (one atomic save with fsync and backup): "
        + ", ".join(
            f"N={r['n']:,}: {r['state_write_s'] * 1000:.0f} ms ({r['state_bytes'] / 1024:.0f} KiB)"
            for r in rows
        ),
        "",
    ]
    f = applied["flowplan"]
    lines += [
        "## apply of 300 new connections (default --parallelism 8)",
        "",
        "| tool | wall s | limit s (300 × latency / 8) | CPU s | state writes |",
        "|---|---|---|---|---|",
        f"| flowplan apply | {f['wall_s']:.2f} | {applied['limit_s']:.2f} | {f['cpu_s']:.2f} | "
        f"{applied['state_writes']} |",
    ]
    if aepp:
        a = applied["aepp"]
        lines.append(f"| aepp loop, one by one | {a['wall_s']:.2f} | — | {a['cpu_s']:.2f} | — |")
        lines += [
            "",
            f"flowplan is **{a['wall_s'] / f['wall_s']:.1f}×** faster than the aepp loop.",
        ]
    lines += ["", "## targets", ""]
    lines += targets(rows, applied, aepp)
    return "\n".join(lines) + "\n"


def targets(rows: list[dict[str, Any]], applied: dict[str, Any], aepp: bool) -> list[str]:
    by_n = {r["n"]: r for r in rows}
    out = []

    def check(ok: bool, text: str) -> None:
        out.append(f"- [{'x' if ok else ' '}] {text}")

    check(
        all(r["plan"]["requests"] <= math.ceil(r["n"] / 100) + 5 for r in rows),
        "plan requests ≤ ceil(N/100) + 5 at every N",
    )
    if aepp and 2000 in by_n:
        r = by_n[2000]
        ratio = r["plan"]["wall_s"] / r["aepp_list"]["wall_s"]
        check(ratio <= 1.5, f"plan wall ≤ 1.5 × the aepp listing at N = 2,000 ({ratio:.2f}×)")
    if aepp:
        speedup = applied["aepp"]["wall_s"] / applied["flowplan"]["wall_s"]
        check(speedup >= 4, f"apply of 300 at least 4× faster than the aepp loop ({speedup:.1f}×)")
    if 10000 in by_n:
        rss = by_n[10000]["plan"]["peak_rss_mb"]
        check(rss < 150, f"plan at N = 10,000 under 150 MB peak RSS ({rss:.0f} MB)")
        val = by_n[10000]["validate"]["wall_s"]
        check(val < 2, f"validation of 10,000 connections under 2 s ({val:.2f} s)")
    if 1000 in by_n and 10000 in by_n:
        growth = by_n[10000]["plan"]["cpu_s"] / by_n[1000]["plan"]["cpu_s"]
        check(growth <= 12, f"plan CPU grows at most 12× from N = 1,000 to 10,000 ({growth:.1f}×)")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
