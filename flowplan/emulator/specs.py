"""Organisation-agnostic facts the emulator serves: the flow specs, the Data Lake target spec,
and what `/connections/{id}/explore` shows for each built-in source type.

The flow spec follows the shape of the OpenAPI's FlowSpecItemDTO example (CloudStorageToAEP),
with the values of the sources tutorials for CRMToAEP (shared/docs/pipelines-api.md).
"""

from __future__ import annotations

import copy
from typing import Any

from flowplan.flowservice.catalog import BATCH_PROVIDER, BUILTIN_TYPES

DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
DRAFT7 = "http://json-schema.org/draft-07/schema#"

# The scheduleSpec every batch flow spec publishes (OpenAPI FlowSpecItemDTO example, verbatim).
SCHEDULE_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {
        "startTime": {"description": "epoch time", "type": "integer"},
        "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
        "interval": {"type": "integer"},
        "backfill": {"type": "boolean", "default": True},
    },
    "required": ["startTime", "frequency"],
    "if": {"properties": {"frequency": {"const": "once"}}},
    "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
    "else": {
        "required": ["interval"],
        "if": {"properties": {"frequency": {"const": "minute"}}},
        "then": {"properties": {"interval": {"minimum": 15}}},
        "else": {"properties": {"interval": {"minimum": 1}}},
    },
}

COPY_SCHEMA: dict[str, Any] = {  # GUESS: the shape of the tutorials' deltaColumn
    "$schema": DRAFT7,
    "type": "object",
    "properties": {
        "deltaColumn": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "dateFormat": {"type": "string"},
                "timezone": {"type": "string"},
            },
            "required": ["name"],
        }
    },
    "required": ["deltaColumn"],
}

MAPPING_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT7,
    "type": "object",
    "description": "Defines various params required for different mapping from source to target",
    # The OpenAPI types mappingVersion as a string; every tutorial sends a number. Both pass.
    "properties": {
        "mappingId": {"type": "string"},
        "mappingVersion": {"type": ["string", "integer"]},
    },
    "required": ["mappingId"],
}

_CRM_TO_AEP: dict[str, Any] = {
    "id": CRM_FLOW_SPEC,
    "name": "CRMToAEP",
    "providerId": BATCH_PROVIDER,
    "version": "1.0",
    # GUESS: every built-in type is a table-based (CRM, marketing automation, database) source.
    "sourceConnectionSpecIds": [t.spec_id for t in BUILTIN_TYPES.values()],
    "targetConnectionSpecIds": [DATA_LAKE_SPEC],
    "optionSpec": {
        "name": "OptionSpec",
        "spec": {
            "$schema": DRAFT7,
            "type": "object",
            "properties": {
                "errorDiagnosticsEnabled": {
                    "title": "Error diagnostics",
                    "type": "boolean",
                    "default": False,
                },
                "partialIngestionPercent": {
                    "title": "Partial ingestion threshold",
                    "type": "number",
                    "exclusiveMinimum": 0,
                },
            },
        },
    },
    # A list, as the sources tutorials' flow spec lookups show it (Copy with its deltaColumn,
    # then Mapping); the OpenAPI's FlowSpecItemDTO types it as one object.
    "transformationSpecs": [
        {"name": "Copy", "spec": COPY_SCHEMA},
        {"name": "Mapping", "spec": MAPPING_SCHEMA},
    ],
    "scheduleSpec": {"name": "PeriodicSchedule", "type": "Periodic", "spec": SCHEDULE_SCHEMA},
    "attributes": {
        "isSourceFlow": True,
        "flacValidationSupported": True,
        "frequency": "batch",
        "notification": {"category": "sources", "flowRun": {"enabled": True}},
    },
    "permissionsInfo": {
        "manage": [{"type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
        "view": [{"type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    },
}

# The Data Lake target spec, as `GET /connectionSpecs` lists it beside the sources. GUESS: its
# name is "datalake", the name aepp's createTargetConnectionDataLake looks it up by.
DATA_LAKE_CONNECTION_SPEC: dict[str, Any] = {
    "id": DATA_LAKE_SPEC,
    "name": "datalake",
    "providerId": "521eee4d-8cbe-4906-bb48-fb6bd4450033",
    "version": "1.0",
    "authSpec": [],
    "targetSpec": {
        "name": "Data Lake",
        "spec": {
            "$schema": DRAFT7,
            "type": "object",
            "properties": {"dataSetId": {"type": "string", "minLength": 1}},
            "required": ["dataSetId"],
        },
    },
    "attributes": {"category": "target", "isSource": False},
}

FLOW_SPECS: dict[str, dict[str, Any]] = {CRM_FLOW_SPEC: _CRM_TO_AEP}

# The flow specs that need a Copy transformation with a deltaColumn: "CRM or relational
# database require the use of deltaColumn" (OpenAPI CreateFlowRequest).
NEEDS_DELTA_COLUMN = frozenset({CRM_FLOW_SPEC})


def flow_specs() -> list[dict[str, Any]]:
    return [copy.deepcopy(s) for s in FLOW_SPECS.values()]


def transformation_schema(flow_spec: dict[str, Any], name: str) -> dict[str, Any] | None:
    for spec in flow_spec.get("transformationSpecs", []):
        if spec["name"] == name:
            schema: dict[str, Any] = spec["spec"]
            return schema
    return None


# What explore shows: the tables of each built-in type, each with its columns (name, type).
# HubSpot's are the tutorial's (`Hubspot.Contacts`, …); the others' are GUESSES of their usual
# objects. Types are the explore API's column types, each with its XDM type.
_S, _D, _T = "string", "date", "timestamp"
TABLES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "hubspot": {
        "Hubspot.Contacts": [
            ("vid", _S),
            ("email", _S),
            ("firstname", _S),
            ("lastname", _S),
            ("createdate", _T),
            ("lastmodifieddate", _T),
        ],
        "Hubspot.Companies": [("companyId", _S), ("name", _S), ("hs_lastmodifieddate", _T)],
        "Hubspot.Deals": [
            ("dealId", _S),
            ("dealname", _S),
            ("amount", "double"),
            ("closedate", _D),
        ],
        "Hubspot.Owners": [("ownerId", _S), ("email", _S), ("updatedAt", _T)],
    },
    "salesforce": {
        "Account": [("Id", _S), ("Name", _S), ("LastModifiedDate", _T)],
        "Contact": [("Id", _S), ("Email", _S), ("LastName", _S), ("LastModifiedDate", _T)],
        "Lead": [("Id", _S), ("Email", _S), ("Company", _S), ("LastModifiedDate", _T)],
    },
    "microsoft-dynamics": {
        "account": [("accountid", _S), ("name", _S), ("modifiedon", _T)],
        "contact": [("contactid", _S), ("emailaddress1", _S), ("modifiedon", _T)],
    },
    "servicenow": {
        "incident": [("sys_id", _S), ("short_description", _S), ("sys_updated_on", _T)],
    },
    "amazon-redshift": {
        "public.customers": [("id", "integer"), ("email", _S), ("updated_at", _T)],
    },
}
_XDM = {
    _S: {"type": "string"},
    _D: {"type": "string", "format": "date"},
    _T: {"type": "string", "format": "date-time"},
    "double": {"type": "number"},
    "integer": {"type": "integer"},
}


def explore_root(type_name: str) -> list[dict[str, Any]]:
    return [
        {"type": "table", "name": table, "path": table, "canPreview": True, "canFetchSchema": True}
        for table in TABLES.get(type_name, {})
    ]


def explore_table(type_name: str, table: str) -> dict[str, Any] | None:
    columns = TABLES.get(type_name, {}).get(table)
    if columns is None:
        return None
    return {
        "format": "flat",
        "schema": {
            "columns": [{"name": n, "type": t, "xdm": dict(_XDM[t])} for n, t in columns],
        },
    }
