"""The emulator's base connections (`/connections`), as Flow Service keeps them.

Faithful to shared/docs/flow-service-api.md; where the sources are silent the choice is marked
GUESS. Raises `ApiProblem`, which the server turns into the FLOW problem body.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft7Validator

from flowplan.emulator.listing import MAX_CACHED_LISTINGS, ListQuery, parse_filter
from flowplan.emulator.problems import ApiProblem, Caller, bad_request, not_found
from flowplan.emulator.records import (
    Record,
    Resources,
    Shared,
    apply_ops,
    normalize_ops,
    optional_text,
    require_name,
)
from flowplan.flowservice.catalog import BY_SPEC_ID, ConnectionType

__all__ = [
    "MAX_CACHED_LISTINGS",
    "ApiProblem",
    "Caller",
    "FlowStore",
    "bad_request",
    "not_found",
    "parse_filter",
]

SECRET_MASK = "********"  # noqa: S105 - GUESS: the API shows "a partial view of the credentials"
PATCHABLE = {"/name", "/description", "/auth/params"}


class FlowStore(Resources):
    """All base connections, keyed by (org, sandbox). Thread-safe."""

    def __init__(
        self, shared: Shared | None = None, specs: Mapping[str, ConnectionType] = BY_SPEC_ID
    ) -> None:
        super().__init__("connections", shared or Shared())
        self._lock = self.shared.lock
        self._specs = specs

    @property
    def _listing(self) -> dict[tuple[Any, ...], Any]:
        return self.lister.cache

    def spec(self, spec_id: Any) -> ConnectionType:
        spec = self._specs.get(str(spec_id).lower()) if isinstance(spec_id, str) else None
        if spec is None:
            raise bad_request("1413", "The spec ID provided is invalid.")
        return spec

    def _check_params(self, spec: ConnectionType, spec_name: Any, params: Any) -> None:
        auth_spec = spec.auth_spec(spec_name) if isinstance(spec_name, str) else None
        if auth_spec is None:
            raise bad_request(
                "1415",
                f"The auth spec '{spec_name}' could not be found for the connection spec ID "
                f"{spec.spec_id}.",
            )
        if not isinstance(params, dict):
            raise bad_request("1406", "auth.params must be an object.")  # GUESS: code
        errors = sorted(Draft7Validator(dict(auth_spec.schema)).iter_errors(params), key=str)
        if errors:
            # GUESS: the API validates params against the auth spec; the code is not documented.
            # The message names the rule and the param, never the value (it may be a secret).
            where = "/".join(str(p) for p in errors[0].absolute_path) or "params"
            first = errors[0]
            detail = first.message if first.validator == "required" else "invalid value"
            raise bad_request("1406", f"Invalid auth params at {where}: {detail}")

    def _public(self, record: Record) -> Record:
        """A record as GET returns it: secret params (format: password) masked.

        A shallow copy of the two nested objects is enough: values are JSON scalars, and
        deepcopy was most of the cost of listing 10,000 connections."""
        spec = self._specs.get(record["connectionSpec"]["id"])
        auth_spec = spec.auth_spec(record["auth"]["specName"]) if spec else None
        secret = auth_spec.secret_params if auth_spec else frozenset()
        params = {k: SECRET_MASK if k in secret else v for k, v in record["auth"]["params"].items()}
        out = dict(record)
        out["auth"] = {"specName": record["auth"]["specName"], "params": params}
        out["connectionSpec"] = dict(record["connectionSpec"])
        return out

    # --- operations ---------------------------------------------------------------------------

    def create(self, caller: Caller, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body:
            raise bad_request("1405", "The request body cannot be null or empty.")
        spec_info = body.get("connectionSpec")
        if not isinstance(spec_info, dict):
            raise bad_request("1413", "The spec ID provided is invalid.")
        spec = self.spec(spec_info.get("id"))
        version = spec_info.get("version", spec.version)  # SW: omitted = the latest
        if version != spec.version:
            raise ApiProblem(400, "1420", "Version not matching", f"Unknown version {version!r}.")
        name = require_name(body, "connection")
        auth = body.get("auth")
        if not isinstance(auth, dict):
            raise bad_request("1406", "auth is required.")
        self._check_params(spec, auth.get("specName"), auth.get("params"))
        description = optional_text(body, "description", self.kind)
        fields: Record = {
            "name": name,
            "connectionSpec": {"id": spec.spec_id, "version": spec.version},
            "state": "enabled",
            "auth": {"specName": auth["specName"], "params": copy.deepcopy(auth["params"])},
        }
        if description is not None:
            fields["description"] = description
        with self._lock:
            record = self.new(caller, fields)
            return {"id": record["id"], "etag": record["etag"]}

    def get(self, caller: Caller, conn_id: str) -> Record:
        with self._lock:
            return self._public(self.find(caller, conn_id))

    def stored(self, caller: Caller, conn_id: str) -> Record:
        """The full record, secrets included (in-process test API only)."""
        with self._lock:
            return copy.deepcopy(self.find(caller, conn_id))

    def patch(self, caller: Caller, conn_id: str, if_match: str | None, ops: Any) -> Record:
        if not if_match:
            self.check_if_match({"etag": None}, if_match)
        normalized = normalize_ops(ops, _patchable, self.kind)
        with self._lock:
            record = self.find(caller, conn_id)
            self.check_if_match(record, if_match)
            editable: Record = {
                "name": record["name"],
                "auth": {"params": record["auth"]["params"]},
            }
            if "description" in record:
                editable["description"] = record["description"]
            changed = apply_ops(editable, normalized, self.kind)
            if not isinstance(changed.get("name"), str) or not changed["name"]:
                raise bad_request("1455", "The connection name cannot be removed.")
            spec = self.spec(record["connectionSpec"]["id"])
            self._check_params(spec, record["auth"]["specName"], changed["auth"].get("params"))
            record["name"] = changed["name"]
            record["auth"]["params"] = changed["auth"]["params"]
            if "description" in changed:
                record["description"] = changed["description"]
            else:
                record.pop("description", None)
            self.touch(record, caller.client)
            return {"id": record["id"], "etag": record["etag"]}

    def delete(self, caller: Caller, conn_id: str) -> None:
        with self._lock:
            self.remove(caller, conn_id)

    def modify_out_of_band(
        self, caller: Caller, conn_id: str, change: Callable[[Record], None]
    ) -> Record:
        """Change a record as another user would (test API): new etag, updatedBy."""
        with self._lock:
            record = self.bucket(caller)[conn_id]
            change(record)
            self.touch(record, caller.client)
            return copy.deepcopy(record)

    def query(self, caller: Caller, query: ListQuery) -> Record:
        with self._lock:
            return self.listing(caller, query, self._public)


def _patchable(path: str) -> bool:
    if path == "/connectionSpec" or path.startswith("/connectionSpec/"):
        raise bad_request("1414", "The connection spec of a connection cannot be updated.")
    return path in PATCHABLE
