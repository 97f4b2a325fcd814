"""Run one command and print its wall time, CPU time and peak RSS as JSON.

A process of its own, so getrusage(RUSAGE_CHILDREN) covers exactly that one child."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    start = time.perf_counter()
    result = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "code": result.returncode,
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "stdout_tail": result.stdout[-300:],
                "stderr_tail": result.stderr[-300:],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
