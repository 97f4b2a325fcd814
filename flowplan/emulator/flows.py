"""Dataflows (`/flows`, `POST /flows/{id}/action?op=ENABLE|DISABLE`).

Rules from the OpenAPI (CreateFlowRequest, the flow spec's scheduleSpec), the sources and
update-dataflows tutorials (shared/docs/pipelines-api.md): the flow spec must allow the source
and target connections' specs, a Mapping transformation names an existing mapping set, the CRM
flow spec needs a Copy transformation with a deltaColumn, and a startTime that has passed can
no longer be changed. Where the documents give no error code the choice is marked GUESS.
"""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft7Validator

from flowplan.emulator.mappings import MappingSets
from flowplan.emulator.pipelines import SourceConnections, TargetConnections
from flowplan.emulator.problems import Caller, bad_request
from flowplan.emulator.records import (
    Record,
    Resources,
    Shared,
    apply_ops,
    normalize_ops,
    optional_text,
    require_name,
)
from flowplan.emulator.runs import Runs, epoch
from flowplan.emulator.specs import (
    FLOW_SPECS,
    NEEDS_DELTA_COLUMN,
    SCHEDULE_SCHEMA,
    transformation_schema,
)

KIND = "flows"
ACTIONS = {"ENABLE": "enabled", "DISABLE": "disabled"}


def _patchable(path: str) -> bool:
    parts = path.split("/")
    if len(parts) < 2 or parts[0]:
        return False
    return path in ("/name", "/description") or parts[1] in ("scheduleParams", "transformations")


def invalid(code: str, message: str) -> Exception:
    return bad_request(code, message, KIND)


class Flows(Resources):
    def __init__(
        self,
        shared: Shared,
        sources: SourceConnections,
        targets: TargetConnections,
        mappings: MappingSets,
        runs: Runs,
    ) -> None:
        super().__init__(KIND, shared)
        self.sources, self.targets, self.mappings, self.runs = sources, targets, mappings, runs
        self._disabled_since: dict[str, float] = {}

    # --- reads --------------------------------------------------------------------------------

    def get(self, caller: Caller, flow_id: str) -> Record:
        with self.shared.lock:
            return copy.deepcopy(self.find(caller, flow_id))

    def sync_runs(self, caller: Caller, flow_ids: list[str] | None = None) -> None:
        """Bring the runs of these flows (default: all in the sandbox) up to now."""
        with self.shared.lock:
            bucket = self.bucket(caller)
            ids = list(bucket) if flow_ids is None else [i for i in flow_ids if i in bucket]
            for flow_id in ids:
                self.runs.sync(caller, bucket[flow_id], self._disabled_since.get(flow_id))

    def using(self, caller: Caller, key: str, resource_id: str) -> Record | None:
        """The first flow whose `key` list (sourceConnectionIds…) holds `resource_id`."""
        return next((f for f in self.bucket(caller).values() if resource_id in f[key]), None)

    # --- writes -------------------------------------------------------------------------------

    def create(self, caller: Caller, body: Any) -> Record:
        if not isinstance(body, dict) or not body:
            raise invalid("1405", "The request body cannot be null or empty.")
        # GUESS: the OpenAPI requires only flowSpec; every tutorial, and aepp, send a name.
        name = require_name(body, "flow")
        with self.shared.lock:
            spec = self._flow_spec(body.get("flowSpec"))
            sources = self._connections(caller, body, "sourceConnectionIds", spec)
            targets = self._connections(caller, body, "targetConnectionIds", spec)
            transformations = self._transformations(caller, body.get("transformations", []), spec)
            schedule = _schedule(body.get("scheduleParams"))
            fields: Record = {
                "name": name,
                "description": optional_text(body, "description", KIND),
                "flowSpec": {"id": spec["id"], "version": spec["version"]},
                "state": "enabled",
                "sourceConnectionIds": [s["id"] for s in sources],
                "targetConnectionIds": [t["id"] for t in targets],
                "inheritedAttributes": _inherited(sources, targets),
                "transformations": transformations,
                "scheduleParams": schedule,
                "options": body.get("options"),
            }
            record = self.new(caller, {k: v for k, v in fields.items() if v is not None})
            record["runs"] = f"/runs?property=flowId=={record['id']}"
            record["lastOperation"] = self._operation("create")
            self.runs.sync(caller, record, None)
            return {"id": record["id"], "etag": record["etag"]}

    def patch(self, caller: Caller, flow_id: str, if_match: str | None, ops: Any) -> Record:
        if not if_match:
            self.check_if_match({"etag": None}, if_match)
        normalized = normalize_ops(ops, _patchable, KIND)
        with self.shared.lock:
            record = self.find(caller, flow_id)
            self.check_if_match(record, if_match)
            keys = ("name", "description", "scheduleParams", "transformations")
            changed = apply_ops({k: record[k] for k in keys if k in record}, normalized, KIND)
            if not isinstance(changed.get("name"), str) or not changed["name"]:
                raise invalid("1455", "The flow name cannot be removed.")
            spec = FLOW_SPECS[record["flowSpec"]["id"]]
            transformations = self._transformations(
                caller, changed.get("transformations", []), spec
            )
            schedule = _schedule(changed.get("scheduleParams"))
            self._check_start_time(record.get("scheduleParams"), schedule)
            self.runs.sync(caller, record, self._disabled_since.get(flow_id))
            for key, value in (("transformations", transformations), ("scheduleParams", schedule)):
                changed[key] = value
            for key in keys:
                if changed.get(key) is not None:
                    record[key] = changed[key]
                else:
                    record.pop(key, None)
            record["lastOperation"] = self._operation("update")
            self.touch(record, caller.client)
            return {"id": record["id"], "etag": record["etag"]}

    def action(self, caller: Caller, flow_id: str, op: str | None) -> Record:
        if op is None or op.upper() not in ACTIONS:
            # GUESS: FINALIZE_UPDATE/FINALIZE/PUBLISH are for draft flows, which the emulator
            # does not make; it answers them as an unsupported operation.
            raise invalid("1434", f"Unsupported operation '{op}' received")
        state = ACTIONS[op.upper()]
        with self.shared.lock:
            record = self.find(caller, flow_id)
            if record["state"] == state:
                return {"id": record["id"], "etag": record["etag"]}  # GUESS: a no-op
            self.runs.sync(caller, record, self._disabled_since.get(flow_id))
            if state == "disabled":
                self._disabled_since[flow_id] = self.shared.clock.now()
            else:
                self._disabled_since.pop(flow_id, None)
            record["state"] = state
            record["lastOperation"] = self._operation(op.lower())
            self.touch(record, caller.client)
            return {"id": record["id"], "etag": record["etag"]}

    def delete(self, caller: Caller, flow_id: str) -> None:
        with self.shared.lock:
            self.remove(caller, flow_id)
            self._disabled_since.pop(flow_id, None)
            self.runs.forget(caller, flow_id)

    # --- validation ---------------------------------------------------------------------------

    def _flow_spec(self, info: Any) -> dict[str, Any]:
        spec_id = info.get("id") if isinstance(info, dict) else None
        spec = FLOW_SPECS.get(str(spec_id).lower()) if isinstance(spec_id, str) else None
        if spec is None:
            raise invalid("1413", f"The flow spec ID {spec_id} provided is invalid.")
        if info.get("version", spec["version"]) != spec["version"]:
            raise invalid("1420", f"Unknown flow spec version {info.get('version')!r}.")
        return spec

    def _connections(
        self, caller: Caller, body: Record, key: str, spec: dict[str, Any]
    ) -> list[Record]:
        ids = body.get(key)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise invalid("1406", f"{key} must be a non-empty list of ids.")  # GUESS: code
        store = self.sources if key == "sourceConnectionIds" else self.targets
        allowed = spec[key.replace("ConnectionIds", "ConnectionSpecIds")]
        found = []
        for resource_id in ids:
            record = store.bucket(caller).get(resource_id)
            if record is None:
                raise invalid("1416", f"The {store.kind} resource {resource_id} does not exist.")
            if record["connectionSpec"]["id"] not in allowed:
                raise invalid(
                    "1417",  # GUESS: code
                    f"The flow spec {spec['name']} does not support the connection spec "
                    f"{record['connectionSpec']['id']} of {store.kind} {resource_id}.",
                )
            found.append(record)
        return found

    def _transformations(self, caller: Caller, raw: Any, spec: dict[str, Any]) -> list[Record]:
        if not isinstance(raw, list):
            raise invalid("1406", "transformations must be a list.")
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("params"), dict):
                raise invalid("1406", f"transformations[{i}] needs a name and params.")
            schema = transformation_schema(spec, str(item.get("name")))
            if schema is None:
                raise invalid("1406", f"transformations[{i}]: unknown name {item.get('name')!r}.")
            errors = list(Draft7Validator(schema).iter_errors(item["params"]))
            if errors:
                raise invalid("1406", f"transformations[{i}].params: {errors[0].message}")
            if item["name"] == "Mapping":
                self._check_mapping(caller, item["params"], i)
            out.append(copy.deepcopy(item))
        if spec["id"] in NEEDS_DELTA_COLUMN and not any(t["name"] == "Copy" for t in out):
            raise invalid(
                "1406",
                f"The flow spec {spec['name']} requires a Copy transformation with a deltaColumn.",
            )
        return out

    def _check_mapping(self, caller: Caller, params: Record, index: int) -> None:
        latest = self.mappings.latest_version(caller, str(params["mappingId"]))
        if latest is None:
            raise invalid(
                "1416", f"transformations[{index}]: mapping set {params['mappingId']} not found."
            )
        version = params.get("mappingVersion", latest)
        if not str(version).isdigit() or int(version) > latest:
            raise invalid(
                "1416", f"transformations[{index}]: mapping set version {version} not found."
            )

    def _check_start_time(self, old: Record | None, new: Record | None) -> None:
        old_start = epoch((old or {}).get("startTime"))
        new_start = epoch((new or {}).get("startTime"))
        if old_start is None or old_start == new_start:
            return
        if old_start <= self.shared.clock.now():
            raise invalid(
                "1406",  # GUESS: code; the rule is the update-dataflows tutorial's
                "You cannot update the startTime of a flow whose initially scheduled startTime "
                "has already occurred.",
            )

    def _operation(self, name: str) -> Record:
        now = self.shared.clock.now_ms()
        return {"started": now, "updated": now, "operation": name}


def _schedule(raw: Any) -> Record | None:
    """scheduleParams, checked against the flow spec's scheduleSpec, defaults filled in.

    GUESS: numeric strings are checked as numbers (the tutorials send startTime as a string,
    aepp sends interval as one). startTime reads back as the integer both the scheduleSpec and
    the OpenAPI's ScheduleSpecDTO type it as; interval as sent, since the two disagree on it
    (integer, string)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("1406", "scheduleParams must be an object.")
    schedule = copy.deepcopy(raw)
    checked = dict(schedule)
    for key in ("startTime", "interval"):
        if key in schedule:
            checked[key] = epoch(schedule[key], schedule[key])
    errors = sorted(Draft7Validator(SCHEDULE_SCHEMA).iter_errors(checked), key=str)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "scheduleParams"
        detail = first.message
        if first.validator == "not":
            detail = "interval and backfill are not allowed when frequency is once"
        raise invalid("1406", f"Invalid scheduleParams at {where}: {detail}")
    schedule["startTime"] = checked["startTime"]  # an integer, as both schemas type it
    if schedule["frequency"] != "once":
        schedule.setdefault("backfill", True)
    return schedule


def _inherited(sources: list[Record], targets: list[Record]) -> Record:
    return {
        "sourceConnections": [
            {
                "id": s["id"],
                "connectionSpec": dict(s["connectionSpec"]),
                **(
                    {"baseConnection": copy.deepcopy(s["inheritedAttributes"]["baseConnection"])}
                    if "inheritedAttributes" in s
                    else {}
                ),
            }
            for s in sources
        ],
        "targetConnections": [
            {"id": t["id"], "connectionSpec": dict(t["connectionSpec"])} for t in targets
        ],
        "properties": {"isSourceFlow": True},
    }
