"""`make demo`: the main job, step by step, against the embedded emulator.

Starts the emulator on a free loopback port, points flowplan at it with demo credentials, and
runs the whole HubSpot -> Data Lake pipeline of examples/hubspot-pipeline.yaml: validate ->
plan -> apply -> plan (no changes) -> three hours later, its runs -> a schedule change planned
as an in-place update -> apply -> plan (no changes), printing each step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from flowplan.emulator import Emulator

HERE = Path(__file__).resolve().parent
# The example's dataflow starts on 2030-01-01; the demo moves the emulator's clock there.
SINCE_START = max(0, int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() - time.time()))

DEMO_ENV = {
    "AEP_ACCESS_TOKEN": "demo-token",
    "AEP_API_KEY": "demo-client",
    "AEP_ORG_ID": "DEMO0000000000000000000@AdobeOrg",
    "HUBSPOT_CLIENT_ID": "marketing-client",
    "HUBSPOT_CLIENT_SECRET": "demo-marketing-secret",
    "HUBSPOT_ACCESS_TOKEN": "demo-marketing-access",
    "HUBSPOT_REFRESH_TOKEN": "demo-marketing-refresh",
}


def step(title: str, env: dict[str, str], cwd: Path, *args: str) -> int:
    print(f"\n=== {title}\n$ flowplan {' '.join(args)}", flush=True)
    code = subprocess.run(
        [sys.executable, "-m", "flowplan", *args], env=env, cwd=cwd, check=False
    ).returncode
    print(f"(exit {code})", flush=True)
    return code


def failed(title: str) -> int:
    print(f"Demo failed at: {title}", file=sys.stderr)
    return 1


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="flowplan-demo-"))
    manifest = work / "flowplan.yaml"
    shutil.copy(HERE / "hubspot-pipeline.yaml", manifest)
    with Emulator(latency_ms=5) as emu:
        env = {
            **os.environ,
            **DEMO_ENV,
            "FLOWPLAN_ENDPOINT": emu.flow_url,
            "FLOWPLAN_IMS_ENDPOINT": emu.ims_url,
        }
        print(f"Emulator: {emu.flow_url}\nWorking in {work}")
        steps = [
            ("1. validate the manifest offline", ("validate",), 0),
            ("2. plan: what would change", ("plan", "--detailed-exitcode"), 2),
            ("3. apply", ("apply", "--auto-approve"), 0),
            ("4. plan again: nothing left to do", ("plan", "--detailed-exitcode"), 0),
        ]
        later = [
            ("5. three hours later: the dataflow's runs", ("runs", "--last", "3"), 0),
            ("6. every 2 hours instead of 1: an in-place update", ("plan",), 0),
            ("7. apply the schedule change", ("apply", "--auto-approve"), 0),
            ("8. plan again: nothing left to do", ("plan", "--detailed-exitcode"), 0),
        ]
        for title, args, expected in steps:
            if step(title, env, work, *args) != expected:
                return failed(title)
        emu.advance(SINCE_START + 3 * 3600)  # the emulator's clock: past the first runs
        text = manifest.read_text()
        manifest.write_text(text.replace("interval: 1,", "interval: 2,"))
        for title, args, expected in later:
            if step(title, env, work, *args) != expected:
                return failed(title)
        print(f"\nState file: {work / 'flowplan.state.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
