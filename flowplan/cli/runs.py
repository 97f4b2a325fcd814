"""`flowplan runs`: the latest runs of the managed dataflows (`GET /runs?property=flowId==…`),
with status, start, duration and records read / written / failed."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from flowplan.cli.common import env_option, manifest_option, open_context, state_option
from flowplan.engine.targets import resolve_target
from flowplan.flowservice.client import FlowServiceClient
from flowplan.kinds.base import IDS_PER_QUERY
from flowplan.model import Address

DEFAULT_LAST = 5


@dataclass(frozen=True)
class RunRow:
    address: str
    dataflow_id: str
    run_id: str
    status: str
    started_at: str | None
    duration_s: float | None
    records_read: int | None
    records_written: int | None
    records_failed: int | None


@click.command()
@click.argument("addresses", nargs=-1)
@manifest_option
@state_option
@env_option
@click.option("--last", default=DEFAULT_LAST, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def runs(
    addresses: tuple[str, ...], manifest_path: Path, state_path: str | None, last: int, fmt: str
) -> int:
    """The latest runs of the managed dataflows (or of the ADDRESSES given)."""
    ctx = open_context(manifest_path, state_path)
    state = ctx.load_state()
    flows = {Address("dataflow", k): e.id for k, e in state.of_kind("dataflow").items()}
    if addresses:
        chosen = [resolve_target(text, sorted(flows)) for text in addresses]
        flows = {a: flows[a] for a in chosen}
    rows = latest_runs(ctx.client(), flows, last)
    if fmt == "json":
        click.echo(json.dumps({"runs": [asdict(r) for r in rows]}, indent=2))
    else:
        click.echo(render_runs(rows, flows), nl=False)
    return 0


def latest_runs(client: FlowServiceClient, flows: Mapping[Address, str], last: int) -> list[RunRow]:
    """The `last` newest runs of each dataflow; one request per 100 dataflows."""
    by_flow = {flow_id: address for address, flow_id in flows.items()}
    ids = sorted(by_flow)
    items: list[Mapping[str, Any]] = []
    for start in range(0, len(ids), IDS_PER_QUERY):
        batch = ids[start : start + IDS_PER_QUERY]
        items += client.list("runs", [f"flowId=={','.join(batch)}"])
    grouped: dict[str, list[RunRow]] = {}
    for item in items:
        flow_id = str(item.get("flowId", ""))
        if flow_id in by_flow:
            grouped.setdefault(flow_id, []).append(_row(str(by_flow[flow_id]), flow_id, item))
    rows: list[RunRow] = []
    for flow_id in ids:
        newest = sorted(grouped.get(flow_id, []), key=lambda r: r.started_at or "", reverse=True)
        rows += newest[:last]
    return rows


def _row(address: str, flow_id: str, item: Mapping[str, Any]) -> RunRow:
    metrics = item.get("metrics") or {}
    duration = metrics.get("durationSummary") or {}
    records = metrics.get("recordSummary") or {}
    started, completed = _ms(duration.get("startedAtUTC")), _ms(duration.get("completedAtUTC"))
    return RunRow(
        address=address,
        dataflow_id=flow_id,
        run_id=str(item.get("id", "")),
        status=str((metrics.get("statusSummary") or {}).get("status", "unknown")),
        started_at=_iso(started) if started is not None else None,
        duration_s=(completed - started) / 1000 if started and completed else None,
        records_read=_count(records.get("inputRecordCount")),
        records_written=_count(records.get("outputRecordCount")),
        records_failed=_count(records.get("failedRecordCount")),
    )


def render_runs(rows: Sequence[RunRow], flows: Mapping[Address, str]) -> str:
    if not flows:
        return "No dataflows in the state.\n"
    if not rows:
        return f"No runs yet for {len(flows)} dataflow(s).\n"
    header = ("dataflow", "run", "status", "started (UTC)", "duration", "read", "written", "failed")
    table = [header] + [
        (
            r.address,
            r.run_id,
            r.status,
            r.started_at or "-",
            f"{r.duration_s:.0f}s" if r.duration_s is not None else "-",
            *(str(v) if v is not None else "-" for v in (r.records_read, r.records_written)),
            str(r.records_failed) if r.records_failed is not None else "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in table
    )


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ms / 1000))
