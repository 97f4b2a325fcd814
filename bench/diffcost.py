"""The cost of comparing pipeline attributes: flowplan's hand-written nested diff against
deepdiff (issue #14 asked for deepdiff's cost to be measured before choosing).

Every plan compares each managed resource's desired attributes with what the service returns;
nearly always they are equal. Measured on the attributes of N pipelines (five resources each,
as flowplan's kinds build them), both when all are equal and when each differs in one nested
field (a dataflow's schedule interval, a mapping's destination, ...).

    python bench/diffcost.py [N_PIPELINES]     prints JSON
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _diff_module() -> Any:
    for name in ("flowplan.model.diff", "flowplan.engine.diff"):  # it moved once
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise SystemExit("flowplan's diff module was not found")


def pipeline(i: int) -> list[dict[str, Any]]:
    """The attributes of one pipeline's five resources, shaped as the kinds send them."""
    schema = f"https://ns.adobe.com/acme/schemas/s{i}"
    return [
        {"name": f"HubSpot {i}", "description": "", "params": {"clientId": "c"}},
        {
            "name": f"contacts {i}",
            "description": "",
            "baseConnectionId": f"conn-{i}",
            "data": {"format": "tabular"},
            "params": {"path": "Hubspot.Contacts"},
            "connectionSpec": {"id": "cc6a4487-9e91-433e-a3a3-9cf6626c1806", "version": "1.0"},
        },
        {
            "name": f"lake {i}",
            "description": "",
            "data": {"schema": {"id": schema, "version": "1"}},
            "params": {"dataSetId": f"ds{i}"},
        },
        {
            "xdmSchema": schema,
            "xdmVersion": "1.0",
            "mappings": [
                {"sourceType": "ATTRIBUTE", "source": "email", "destination": "a.b"},
                {"sourceType": "EXPRESSION", "source": "concat(x, y)", "destination": "c.d"},
            ],
        },
        {
            "name": f"contacts hourly {i}",
            "description": "",
            "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
            "sourceConnectionIds": [f"src-{i}"],
            "targetConnectionIds": [f"tgt-{i}"],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "m", "timezone": "UTC"}}},
                {"name": "Mapping", "params": {"mappingId": f"map-{i}", "mappingVersion": 0}},
            ],
            "scheduleParams": {"startTime": "1893456000", "frequency": "hour", "interval": 1},
        },
    ]


def changed(attrs: dict[str, Any]) -> dict[str, Any]:
    """The same attributes with one nested field changed."""
    out = copy.deepcopy(attrs)
    if "scheduleParams" in out:
        out["scheduleParams"]["interval"] = 2
    elif "mappings" in out:
        out["mappings"][1]["destination"] = "e.f"
    else:
        out["name"] += " (renamed)"
    return out


def timed(fn: Callable[[Any, Any], Any], pairs: list[tuple[Any, Any]]) -> tuple[float, int]:
    start = time.perf_counter()
    found = sum(1 for a, b in pairs if fn(a, b))
    return time.perf_counter() - start, found


def measure(n: int) -> dict[str, Any]:
    diff = _diff_module()
    from deepdiff import DeepDiff

    desired = [a for i in range(n) for a in pipeline(i)]
    equal = [(a, copy.deepcopy(a)) for a in desired]
    differ = [(a, changed(a)) for a in desired]
    flowplan_diff = diff.diff_attributes

    def ours(a: Any, b: Any) -> bool:  # as the planner: a cheap equality first
        return not diff.same(a, b) and bool(flowplan_diff(a, b))

    def deep(a: Any, b: Any) -> bool:
        return bool(DeepDiff(a, b))

    result: dict[str, Any] = {"pipelines": n, "resources": len(desired)}
    for name, fn in (("flowplan", ours), ("deepdiff", deep)):
        for case, pairs in (("equal", equal), ("one_change", differ)):
            seconds, found = timed(fn, pairs)
            expected = 0 if case == "equal" else len(pairs)
            if found != expected:
                raise SystemExit(f"{name} found {found} differences in {case}, not {expected}")
            result[f"{name}_{case}_s"] = seconds
    return result


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)))
