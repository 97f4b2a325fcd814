"""Sum the figures the reliability tests wrote (FLOWPLAN_RELIABILITY_STATS) into a table.

python tests/reliability_report.py STATS_FILE
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main() -> int:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        test = row.pop("test")
        for key, value in row.items():
            totals[test][key] += int(value)
    print("| suite | figures |")
    print("|---|---|")
    for test, figures in sorted(totals.items()):
        shown = ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in sorted(figures.items()))
        print(f"| {test} | {shown} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
