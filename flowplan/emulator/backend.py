"""Every kind the emulator keeps, and the rules that span kinds: a dataflow holds on to the
source and target connections it uses, and, through its sources, to their base connections."""

from __future__ import annotations

from collections.abc import Iterable

from flowplan.emulator.flows import Flows
from flowplan.emulator.mappings import MappingSets
from flowplan.emulator.pipelines import SourceConnections, TargetConnections
from flowplan.emulator.problems import ApiProblem, Caller, Clock, bad_request
from flowplan.emulator.records import Record, Shared
from flowplan.emulator.runs import Runs
from flowplan.emulator.store import FlowStore

# The sandboxes every org has unless told otherwise: those the project's tests, examples and
# benchmarks use (prod, dev) and the usual third (stage).
DEFAULT_SANDBOXES = ("prod", "dev", "stage")


class Backend:
    def __init__(self, clock: Clock, sandboxes: Iterable[str] = DEFAULT_SANDBOXES) -> None:
        self.sandboxes = frozenset(sandboxes)
        self.shared = Shared(clock=clock)
        self.connections = FlowStore(self.shared)
        self.sources = SourceConnections(self.shared, self.connections)
        self.targets = TargetConnections(self.shared)
        self.mappings = MappingSets(self.shared)
        self.runs = Runs(self.shared)
        self.flows = Flows(self.shared, self.sources, self.targets, self.mappings, self.runs)

    def check_sandbox(self, sandbox: str) -> None:
        if sandbox not in self.sandboxes:
            # FSE 2100-404 / 2101-404, with the table's wording.
            raise ApiProblem(
                404,
                "2101",
                "Resource not found",
                f"The sandbox with the name '{sandbox}' could not be found.",
                "sandboxes",
            )

    def delete_connection(self, caller: Caller, conn_id: str) -> None:
        with self.shared.lock:
            self.connections.find(caller, conn_id)
            for flow in self.flows.bucket(caller).values():
                base_ids = {
                    s.get("baseConnection", {}).get("id")
                    for s in flow["inheritedAttributes"]["sourceConnections"]
                }
                if conn_id in base_ids:
                    # FSE 1418-400, naming the flow (GUESS: the real message names none).
                    raise bad_request(
                        "1418",
                        f"The base connection with the ID {conn_id} cannot be deleted because "
                        f"the base connection is being used in one or more flows: {_named(flow)}.",
                    )
            self.connections.delete(caller, conn_id)

    def delete_source(self, caller: Caller, source_id: str) -> None:
        self._delete_used(caller, source_id, self.sources, "sourceConnectionIds", "source")

    def delete_target(self, caller: Caller, target_id: str) -> None:
        self._delete_used(caller, target_id, self.targets, "targetConnectionIds", "target")

    def _delete_used(
        self,
        caller: Caller,
        resource_id: str,
        store: SourceConnections | TargetConnections,
        key: str,
        noun: str,
    ) -> None:
        with self.shared.lock:
            store.find(caller, resource_id)
            flow = self.flows.using(caller, key, resource_id)
            if flow is not None:
                # GUESS: undocumented; the same rule and code as for a base connection.
                raise bad_request(
                    "1418",
                    f"The {noun} connection with the ID {resource_id} cannot be deleted because "
                    f"it is being used in one or more flows: {_named(flow)}.",
                    store.kind,
                )
            store.remove(caller, resource_id)


def _named(flow: Record) -> str:
    return f"{flow['name']!r} ({flow['id']})"
