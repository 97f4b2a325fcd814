"""`make demo`: the main job, step by step, against the embedded emulator.

Starts the emulator on a free loopback port, points flowplan at it with demo credentials, and
runs validate -> plan -> apply -> plan (no changes), printing each step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from flowplan.emulator import Emulator

HERE = Path(__file__).resolve().parent

DEMO_ENV = {
    "AEP_ACCESS_TOKEN": "demo-token",
    "AEP_API_KEY": "demo-client",
    "AEP_ORG_ID": "DEMO0000000000000000000@AdobeOrg",
    "HUBSPOT_CLIENT_ID": "marketing-client",
    "HUBSPOT_CLIENT_SECRET": "demo-marketing-secret",
    "HUBSPOT_ACCESS_TOKEN": "demo-marketing-access",
    "HUBSPOT_REFRESH_TOKEN": "demo-marketing-refresh",
    "HUBSPOT_SALES_CLIENT_ID": "sales-client",
    "HUBSPOT_SALES_CLIENT_SECRET": "demo-sales-secret",
    "HUBSPOT_SALES_ACCESS_TOKEN": "demo-sales-access",
}


def step(title: str, env: dict[str, str], cwd: Path, *args: str) -> int:
    print(f"\n=== {title}\n$ flowplan {' '.join(args)}", flush=True)
    code = subprocess.run(
        [sys.executable, "-m", "flowplan", *args], env=env, cwd=cwd, check=False
    ).returncode
    print(f"(exit {code})", flush=True)
    return code


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="flowplan-demo-"))
    shutil.copy(HERE / "hubspot.yaml", work / "flowplan.yaml")
    (work / "secrets").mkdir()
    (work / "secrets" / "hubspot-sales-refresh-token").write_text("demo-sales-refresh\n")
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
        for title, args, expected in steps:
            if step(title, env, work, *args) != expected:
                print(f"Demo failed at: {title}", file=sys.stderr)
                return 1
        print(f"\nState file: {work / 'flowplan.state.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
