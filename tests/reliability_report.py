"""Sum the figures the reliability tests wrote (FLOWPLAN_RELIABILITY_STATS) into a table.

python tests/reliability_report.py STATS_FILE [--junit JUNIT_XML] [--write RELIABILITY_MD]

Every figure comes from a test's `record(...)` call in that run; the suite's descriptions are
fixed text. With --junit, the run's test count and time are read from pytest's JUnit XML. With
--write, the table replaces what lies between the figures markers of that Markdown file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree

BEGIN = "<!-- figures:begin (written by tests/reliability_report.py) -->"
END = "<!-- figures:end -->"

DESCRIPTIONS = {
    "property": "property (hypothesis: 1-30 connections per round, up to 3 rounds, random names "
    "with quotes, commas, colons and accents; random out-of-band renames, description and "
    "param changes, deletes and foreign connections with colliding names)",
    "faults": "faults (200 connections; 10-20 % of requests fail: 429 + Retry-After, 500, 502, "
    "503, dropped connections before and after the write, answers slower than the 0.8 s read "
    "timeout)",
    "crashes": "crashes (SIGKILL of an apply of 40 connections at random moments, the manifest "
    "changing between kills, then one more apply)",
    "kills": "kills during re-creates and replaces (20 connections; each trial deletes some out "
    "of band, switches auth specs, edits descriptions, SIGKILLs the apply — half the kills "
    "while a committed create awaits its answer — then applies and checks)",
    "pipeline_kills": "pipeline kills (examples/hubspot-pipeline.yaml into an empty org, the "
    "apply SIGKILLed at a random moment, then applied again: one connection, source, target "
    "and dataflow, an empty plan; mapping sets cut short cannot be found again, so counted)",
    "signals": "signals (SIGINT, SIGTERM, double Ctrl-C to a child apply of 60 connections)",
    "concurrency": "concurrency (2 and 4 applies started at once on one state; a lock whose "
    "holder was SIGKILLed)",
    "fuzz": "hostile input (hand-written hostile manifests plus random byte mutations, each fed "
    "to `validate` and `plan`, 20 s alarm each)",
    "corrupt": "corrupt files (state: truncated, not JSON, newer and unknown versions, other "
    "org, other sandbox, missing fields, wrong types; saved plans: truncated, other format, "
    "garbage changes, other lineage; plus hand-edited etags)",
    "secrets": "secrets canary (plan, show, apply, import, export, state list/show/rm in text, "
    "markdown and JSON, with --debug, the emulator as its own process; each command's exit "
    "code checked; stdout, stderr, logs, state, backup, saved plans, emulator output)",
}


def totals(stats: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in stats.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        test = row.pop("test")
        for key, value in row.items():
            out[test][key] += int(value)
    return out


def table(figures: dict[str, dict[str, int]]) -> list[str]:
    lines = ["| suite | figures |", "|---|---|"]
    for test, values in sorted(figures.items()):
        shown = ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in sorted(values.items()))
        lines.append(f"| {DESCRIPTIONS.get(test, test)} | {shown} |")
    return lines


def run_line(junit: Path | None) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    when = datetime.date.today().isoformat()
    if junit is None:
        return f"Run of {when} on {machine}."
    suite = ElementTree.parse(junit).getroot()  # noqa: S314 - pytest wrote it, just now
    if suite.tag == "testsuites":
        suite = suite[0]
    tests, time_s = int(suite.get("tests", 0)), float(suite.get("time", 0))
    bad = sum(int(suite.get(k, 0)) for k in ("failures", "errors"))
    return f"Run of {when} on {machine}: {tests} tests, {bad} failed or errored, in {time_s:.0f} s."


def write_into(markdown: Path, block: list[str]) -> None:
    text = markdown.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{markdown} has no {BEGIN!r} … {END!r} markers")
    replacement = "\n".join([BEGIN, *block, END])
    markdown.write_text(pattern.sub(lambda _: replacement, text), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stats", type=Path)
    parser.add_argument("--junit", type=Path)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    block = [run_line(args.junit), "", *table(totals(args.stats))]
    print("\n".join(block))
    if args.write is not None:
        write_into(args.write, block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
