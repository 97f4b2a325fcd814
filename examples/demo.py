"""`make demo`: the main job, step by step, against the embedded emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def step(title: str, *args: str) -> int:
    print(f"\n$ flowplan {' '.join(args)}    # {title}", flush=True)
    return subprocess.run([sys.executable, "-m", "flowplan", *args], check=False).returncode


def main() -> int:
    manifest = str(HERE / "hubspot.yaml")
    return step("check the manifest offline", "validate", "-f", manifest)


if __name__ == "__main__":
    raise SystemExit(main())
