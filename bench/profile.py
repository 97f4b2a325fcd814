"""Where a flowplan command spends its time: cProfile of one run against the emulator, the
functions' own time summed by area (imports, YAML, schema, semantic checks, references,
planning, HTTP and JSON, waiting on the network...).

    python bench/profile.py plan 2000          # plan of 2,000 managed connections
    python bench/profile.py apply 300          # apply of 300 new connections
    python bench/profile.py plan-pipelines 500 # plan of 500 managed pipelines
    python bench/profile.py apply-pipelines 100

Set-up (the apply a plan needs) runs first with no latency; the profiled command runs with
--latency-ms (20). cProfile adds its own overhead (about 1.5-2 times on this code): read the shares,
not the seconds.
"""

from __future__ import annotations

import argparse
import io
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import manifests  # noqa: E402
from run import FLOWPLAN, PYCACHE, flowplan_env  # noqa: E402

from flowplan.emulator import Emulator  # noqa: E402

# First match wins: (area, substring of "file:function").
AREAS = [
    ("waiting (network, threads)", "method 'acquire'"),
    ("waiting (network, threads)", "threading.py"),
    ("imports", "<frozen importlib"),
    ("imports", "built-in method builtins.exec"),
    ("imports", "marshal"),
    ("YAML", "manifest/yaml_loader"),
    ("YAML", "manifest/fast_yaml"),
    ("YAML", "yaml_rs"),
    ("YAML", "/yaml/"),
    ("YAML", "_yaml"),
    ("schema validation", "schema_check"),
    ("schema validation", "fastjsonschema"),
    ("schema validation", "compiled_schema"),  # the validator generated ahead of time
    ("semantic checks", "flowplan/manifest/"),
    ("references", "flowplan/references/"),
    ("planning (kinds, planner)", "flowplan/kinds/"),
    ("planning (kinds, planner)", "flowplan/engine/"),
    ("planning (kinds, planner)", "flowplan/model"),
    ("state", "flowplan/state/"),
    ("HTTP client", "flowplan/flowservice/"),
    ("HTTP client", "requests/"),
    ("HTTP client", "urllib3/"),
    ("HTTP client", "http/client"),
    ("HTTP client", "socket"),
    ("JSON", "json/"),
    ("output", "flowplan/output/"),
    ("output", "flowplan/cli/"),
    ("output", "click/"),
]


def area(name: str) -> str:
    for label, part in AREAS:
        if part in name:
            return label
    return "other (stdlib: dataclasses, hashing, re...)"


def by_area(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for (file, line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        label = area(f"{file}:{line}({func})" if file != "~" else func)
        totals[label] = totals.get(label, 0.0) + row[2]
    return sorted(totals.items(), key=lambda kv: -kv[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job", choices=["plan", "apply", "plan-pipelines", "apply-pipelines"])
    parser.add_argument("n", type=int)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    pipelines = args.job.endswith("pipelines")
    text = (manifests.pipelines if pipelines else manifests.connections)(args.n, "Prof")
    with tempfile.TemporaryDirectory() as folder, Emulator() as emu:
        work = Path(folder)
        path = work / "manifest.yaml"
        path.write_text(text)
        env = flowplan_env(emu, "PROFILE@AdobeOrg")
        if args.job.startswith("plan"):
            subprocess.run(
                [*FLOWPLAN, "apply", "-f", str(path), "--auto-approve", "--parallelism", "16"],
                env=env, cwd=work, capture_output=True, check=True,
            )  # fmt: skip
        warm_up = work / "warm-up.yaml"  # its own state: an apply writes bytecode of all
        warm_up.write_text(manifests.connections(1, "Warm"))  # modules, as for a second run
        subprocess.run(
            [*FLOWPLAN, "apply", "-f", str(warm_up), "--auto-approve"], env=env, cwd=work,
            capture_output=True, check=True,
        )  # fmt: skip
        emu.config.latency_ms = args.latency_ms
        command = "plan" if args.job.startswith("plan") else "apply"
        extra = ["--auto-approve"] if command == "apply" else []
        out = work / "profile.out"
        runner = work / "flowplan_main.py"  # main(argv) returns: the profile gets written
        runner.write_text(
            "import sys\nfrom flowplan.cli import main\nsys.exit(main(sys.argv[1:]))\n"
        )
        subprocess.run(
            [PYTHON, "-m", "cProfile", "-o", str(out), str(runner), command, "-f",
             str(path), *extra],
            env=env, cwd=work, capture_output=True, check=True,
        )  # fmt: skip
        stats = pstats.Stats(str(out), stream=io.StringIO())
    shutil.rmtree(PYCACHE, ignore_errors=True)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{args.job} {args.n}: {total:.2f} s of profiled time (own time, by area)")
    for label, seconds in by_area(stats):
        print(f"  {label:<45} {seconds:6.2f} s  {seconds / total:5.0%}")
    listing = io.StringIO()
    stats.stream = listing  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(args.top)
    print("\n".join(line for line in listing.getvalue().splitlines()[6:] if line.strip()))
    return 0


PYTHON = sys.executable

if __name__ == "__main__":
    raise SystemExit(main())
