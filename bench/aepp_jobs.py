"""What a user would otherwise run: a straightforward script on Adobe's aepp SDK.

python bench/aepp_jobs.py list BASE_URL IMS_URL ORG
python bench/aepp_jobs.py create BASE_URL IMS_URL ORG COUNT PREFIX
python bench/aepp_jobs.py pipelines-list BASE_URL IMS_URL ORG
python bench/aepp_jobs.py pipelines-create BASE_URL IMS_URL ORG COUNT PREFIX

Pipelines go through aepp's own calls: FlowService.createConnection, createSourceConnection,
createTargetConnection, createFlow, getConnections, getSourceConnections,
getTargetConnections, getFlows, and DataPrep.createMappingSet. DataPrep.getMappingSets reads
one page only (no paging in aepp 0.6.0), so the listing pages `start=` through the same aepp
connector (`DataPrep.connector.getData`), as a user of aepp would have to.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

warnings.simplefilter("ignore")

import aepp  # noqa: E402
from aepp import configs, dataprep, flowservice  # noqa: E402
from manifests import HUBSPOT_CREDENTIALS  # noqa: E402  # this folder, as a script's

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
XDM_FULL = "application/vnd.adobe.xed-full+json;version=1"
START_2030 = "1893456000"


def configure(base: str, ims: str, org: str) -> None:
    configs.configure(
        org_id=org,
        client_id="aepp-bench",
        secret="aepp-secret",
        scopes="openid",
        sandbox="prod",
        environment="support",
        endpoint=base,
    )
    aepp.config.config_object["imsEndpoint"] = base
    aepp.config.config_object["oauthTokenEndpointV2"] = ims


def auth() -> dict[str, Any]:
    return {
        "specName": "Basic Authentication",
        "params": dict(HUBSPOT_CREDENTIALS),
    }


def create_connections(fs: flowservice.FlowService, count: int, prefix: str) -> None:
    for i in range(count):
        fs.createConnection(
            data={
                "name": f"{prefix} {i}",
                "auth": auth(),
                "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
            }
        )


def list_mapping_sets(dp: dataprep.DataPrep) -> list[Any]:
    found: list[Any] = []
    while True:
        page = dp.connector.getData(
            dp.endpoint + "/mappingSets", params={"limit": 100, "start": len(found)}
        )
        found += page["data"]
        if len(page["data"]) < 100:
            return found


def list_pipelines(fs: flowservice.FlowService, dp: dataprep.DataPrep) -> int:
    total = len(fs.getConnections(limit=100, n_results="inf"))
    total += len(fs.getSourceConnections(n_results="inf", limit=100))
    total += len(fs.getTargetConnections(n_results="inf", limit=100))
    total += len(list_mapping_sets(dp))
    total += len(fs.getFlows(limit=100, n_results="inf"))
    return total


def create_pipeline(
    fs: flowservice.FlowService, dp: dataprep.DataPrep, i: int, prefix: str
) -> None:
    """One pipeline, call after call, as the tutorials and aepp's docs show it."""
    schema = f"https://ns.adobe.com/acme/schemas/s{i}"
    base = fs.createConnection(
        data={
            "name": f"{prefix} HubSpot {i}",
            "auth": auth(),
            "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
        }
    )
    source = fs.createSourceConnection(
        data={
            "name": f"{prefix} contacts {i}",
            "baseConnectionId": base["id"],
            "data": {"format": "tabular"},
            "params": {"path": "Hubspot.Contacts"},
            "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
        }
    )
    target = fs.createTargetConnection(
        data={
            "name": f"{prefix} lake {i}",
            "data": {"schema": {"id": schema, "version": XDM_FULL}},
            "params": {"dataSetId": f"6511f0c1a4b2c300{i:08x}"},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        }
    )
    mapping = dp.createMappingSet(
        mappingSet={
            "version": 0,
            "xdmSchema": schema,
            "xdmVersion": "1.0",
            "mappings": [
                {
                    "sourceType": "ATTRIBUTE",
                    "source": "email",
                    "destination": "personalEmail.address",
                },
                {
                    "sourceType": "EXPRESSION",
                    "source": "concat(firstname, ' ', lastname)",
                    "destination": "person.name.fullName",
                },
            ],
        }
    )
    copy = {"name": "lastmodifieddate", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}
    fs.createFlow(
        flow_spec_id=CRM_FLOW_SPEC,
        obj={
            "name": f"{prefix} contacts hourly {i}",
            "flowSpec": {"id": CRM_FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [source["id"]],
            "targetConnectionIds": [target["id"]],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": copy}},
                {"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}},
            ],
            "scheduleParams": {
                "startTime": START_2030,
                "frequency": "hour",
                "interval": 1,
                "backfill": True,
            },
        },
    )


def main() -> int:
    job, base, ims, org = sys.argv[1:5]
    configure(base, ims, org)
    fs = flowservice.FlowService()
    if job == "list":
        items = fs.getConnections(limit=100, n_results="inf")  # aepp's best: the largest page
        print(len(items))
        return 0
    if job == "pipelines-list":
        print(list_pipelines(fs, dataprep.DataPrep()))
        return 0
    count, prefix = int(sys.argv[5]), sys.argv[6]
    if job == "pipelines-create":
        dp = dataprep.DataPrep()
        for i in range(count):
            create_pipeline(fs, dp, i, prefix)
    else:
        create_connections(fs, count, prefix)
    print(count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
