"""Refusing, at plan time, a delete that Flow Service would refuse at apply time: a base
connection, source or target still used by a dataflow that flowplan does not manage.

Read only when the plan deletes or replaces such a resource: the dataflows reading each doomed
source (and each source of a doomed connection) and writing each doomed target. A dataflow
the plan deletes first is fine; any other is named in the error, with what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flowplan.engine.changes import Action, Change
from flowplan.errors import PlanError
from flowplan.flowservice.client import FlowServiceClient
from flowplan.kinds.base import IDS_PER_QUERY
from flowplan.state.model import State

DOOMED = (Action.DELETE, Action.REPLACE)


def check_unmanaged_users(
    client: FlowServiceClient, changes: Sequence[Change], state: State
) -> None:
    doomed: dict[str, set[str]] = {}
    for change in changes:
        if change.action in DOOMED and change.id is not None:
            doomed.setdefault(change.kind, set()).add(change.id)
    connections = doomed.get("connection", set())
    sources = set(doomed.get("source", set()))
    targets = doomed.get("target", set())
    if not (connections or sources or targets):
        return
    if connections:
        sources |= {
            str(s["id"])
            for s in _listed(client, "sourceConnections", "baseConnectionId", connections)
        }
    users = _listed(client, "flows", "sourceConnectionIds", sources)
    users += _listed(client, "flows", "targetConnectionIds", targets)
    going = {c.id for c in changes if c.kind == "dataflow" and c.action in DOOMED}
    managed = state.ids_of("dataflow")
    blocking = {
        str(f["id"]): str(f.get("name", ""))
        for f in users
        if str(f["id"]) not in going and str(f["id"]) not in managed
    }
    if blocking:
        named = ", ".join(f"{name!r} ({flow_id})" for flow_id, name in sorted(blocking.items()))
        raise PlanError(
            f"the plan deletes or replaces what dataflows outside this manifest still use: "
            f"{named}. Flow Service refuses to delete what a dataflow uses: delete those "
            "dataflows first, or bring them under management (`flowplan import`)"
        )


def _listed(
    client: FlowServiceClient, collection: str, field: str, ids: Iterable[str]
) -> list[dict[str, object]]:
    wanted = sorted(ids)
    found: list[dict[str, object]] = []
    for start in range(0, len(wanted), IDS_PER_QUERY):
        batch = ",".join(wanted[start : start + IDS_PER_QUERY])
        found += client.list(collection, [f"{field}=={batch}"])
    return found
