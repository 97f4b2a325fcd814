"""What a user would otherwise run: a straightforward script on Adobe's aepp SDK.

python bench/aepp_jobs.py list BASE_URL IMS_URL ORG
python bench/aepp_jobs.py create BASE_URL IMS_URL ORG COUNT PREFIX
"""

from __future__ import annotations

import sys
import warnings

warnings.simplefilter("ignore")

import aepp  # noqa: E402
from aepp import configs, flowservice  # noqa: E402

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"


def service(base: str, ims: str, org: str) -> flowservice.FlowService:
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
    return flowservice.FlowService()


def main() -> int:
    job, base, ims, org = sys.argv[1:5]
    fs = service(base, ims, org)
    if job == "list":
        items = fs.getConnections(limit=100, n_results="inf")  # aepp's best: the largest page
        print(len(items))
        return 0
    count, prefix = int(sys.argv[5]), sys.argv[6]
    for i in range(count):
        fs.createConnection(
            data={
                "name": f"{prefix} {i}",
                "auth": {
                    "specName": "Basic Authentication",
                    "params": {
                        "clientId": "c",
                        "clientSecret": "s",
                        "accessToken": "a",
                        "refreshToken": "r",
                    },
                },
                "connectionSpec": {"id": HUBSPOT, "version": "1.0"},
            }
        )
    print(count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
