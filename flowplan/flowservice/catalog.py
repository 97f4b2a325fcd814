"""The connection types flowplan knows without asking Flow Service.

Each is a real Flow Service source connection spec (see shared/docs/flow-service-api.md §7):
its id, version and auth specs, with the draft-07 JSON Schema of each auth spec's params as the
API publishes it (`format: password` marks a secret). The emulator serves these same specs from
`GET /connectionSpecs`, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BATCH_PROVIDER = "0ed90a81-07f4-4586-8190-b40eccef1c5a"


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """An auth spec and what its params' schema says, read once: the manifest checks ask for
    it once per connection."""

    name: str
    schema: Mapping[str, Any]
    properties: Mapping[str, Any] = field(init=False, repr=False, compare=False)
    required: frozenset[str] = field(init=False, repr=False, compare=False)
    secret_params: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        props: Mapping[str, Any] = self.schema.get("properties", {})
        secret = frozenset(k for k, v in props.items() if v.get("format") == "password")
        object.__setattr__(self, "properties", props)
        object.__setattr__(self, "required", frozenset(self.schema.get("required", ())))
        object.__setattr__(self, "secret_params", secret)


@dataclass(frozen=True, slots=True)
class ConnectionType:
    name: str  # the manifest's `type:` and the spec's `name`
    spec_id: str
    version: str
    provider_id: str
    auth_specs: tuple[AuthSpec, ...]
    # A source connection names its table in this param (Adobe's tutorials: HubSpot `path`,
    # CRM and database sources `tableName`); its dataflows use this flow spec.
    object_param: str = "tableName"
    flow_spec_id: str = "14518937-270c-4525-bdec-c2ba7cce3860"  # CRMToAEP
    needs_delta_column: bool = True

    @property
    def default_auth_spec(self) -> AuthSpec:
        return self.auth_specs[0]

    def auth_spec(self, name: str) -> AuthSpec | None:
        return next((a for a in self.auth_specs if a.name == name), None)

    def to_api(self) -> dict[str, Any]:
        """The spec as `GET /connectionSpecs` returns it (ConnectionSpecItemDTO)."""
        return {
            "id": self.spec_id,
            "name": self.name,
            "providerId": self.provider_id,
            "version": self.version,
            "authSpec": [
                {"name": a.name, "type": "", "spec": dict(a.schema)} for a in self.auth_specs
            ],
            "attributes": {"category": "source", "isSource": True},
        }


def _schema(description: str, props: dict[str, str], required: list[str], secret: set[str]) -> Any:
    properties: dict[str, Any] = {}
    for name, text in props.items():
        prop: dict[str, Any] = {"type": "string", "description": text}
        if name in secret:
            prop["format"] = "password"
        properties[name] = prop
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
    }


_HUBSPOT = ConnectionType(
    object_param="path",
    name="hubspot",
    spec_id="cc6a4487-9e91-433e-a3a3-9cf6626c1806",
    version="1.0",
    provider_id=BATCH_PROVIDER,
    auth_specs=(
        AuthSpec(
            "Basic Authentication",
            _schema(
                "defines auth params required for connecting to HubSpot",
                {
                    "clientId": "The client ID associated with your HubSpot application.",
                    "clientSecret": "The client secret associated with your HubSpot application.",
                    "accessToken": "The access token obtained when initially authenticating "
                    "your OAuth integration.",
                    "refreshToken": "The refresh token obtained when initially authenticating "
                    "your OAuth integration.",
                },
                ["clientId", "clientSecret", "accessToken", "refreshToken"],
                {"clientSecret", "accessToken", "refreshToken"},
            ),
        ),
    ),
)

_SALESFORCE = ConnectionType(
    name="salesforce",
    spec_id="cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
    version="1.0",
    provider_id=BATCH_PROVIDER,
    auth_specs=(
        AuthSpec(
            "Basic Authentication",
            _schema(
                "defines auth params required for connecting to Salesforce",
                {
                    "environmentUrl": "The URL of the Salesforce instance.",
                    "username": "The username of the Salesforce user account.",
                    "password": "The password of the Salesforce user account.",
                    "securityToken": "The security token of the Salesforce user account.",
                    "apiVersion": "The REST API version of the Salesforce instance.",
                },
                ["username", "password", "securityToken"],
                {"password", "securityToken"},
            ),
        ),
    ),
)

_DYNAMICS = ConnectionType(
    name="microsoft-dynamics",
    spec_id="38ad80fe-8b06-4938-94f4-d4ee80266b07",
    version="1.0",
    provider_id=BATCH_PROVIDER,
    auth_specs=(
        AuthSpec(
            "Basic Authentication for Dynamics-Online",
            _schema(
                "defines auth params required for connecting to Dynamics online",
                {
                    "serviceUri": "The URL of the Dynamics instance.",
                    "username": "The username of the Dynamics user account.",
                    "password": "The password of the Dynamics user account.",
                },
                ["serviceUri", "username", "password"],
                {"password"},
            ),
        ),
        AuthSpec(
            "Service Principal Key Based Authentication",
            _schema(
                "defines auth params for a Dynamics service principal",
                {
                    "serviceUri": "The URL of the Dynamics instance.",
                    "servicePrincipalId": "The client ID of the service principal.",
                    "servicePrincipalKey": "The secret key of the service principal.",
                },
                ["serviceUri", "servicePrincipalId", "servicePrincipalKey"],
                {"servicePrincipalKey"},
            ),
        ),
    ),
)

_SERVICENOW = ConnectionType(
    name="servicenow",
    spec_id="eb13cb25-47ab-407f-ba89-c0125281c563",
    version="1.0",
    provider_id=BATCH_PROVIDER,
    auth_specs=(
        AuthSpec(
            "Basic Authentication",
            _schema(
                "defines auth params required for connecting to ServiceNow",
                {
                    "endpoint": "The endpoint of the ServiceNow server.",
                    "username": "The username of the ServiceNow user account.",
                    "password": "The password of the ServiceNow user account.",
                },
                ["endpoint", "username", "password"],
                {"password"},
            ),
        ),
    ),
)

_REDSHIFT = ConnectionType(
    name="amazon-redshift",
    spec_id="3416976c-a9ca-4bba-901a-1f08f66978ff",
    version="1.0",
    provider_id=BATCH_PROVIDER,
    auth_specs=(
        AuthSpec(
            "Basic Authentication",
            _schema(
                "defines auth params required for connecting to Amazon Redshift",
                {
                    "server": "The server of the Redshift cluster.",
                    "database": "The database to connect to.",
                    "username": "The username of the Redshift user.",
                    "password": "The password of the Redshift user.",
                },
                ["server", "database", "username", "password"],
                {"password"},
            ),
        ),
    ),
)

BUILTIN_TYPES: Mapping[str, ConnectionType] = {
    t.name: t for t in (_HUBSPOT, _SALESFORCE, _DYNAMICS, _SERVICENOW, _REDSHIFT)
}
BY_SPEC_ID: Mapping[str, ConnectionType] = {t.spec_id: t for t in BUILTIN_TYPES.values()}


def type_for_spec(spec_id: str) -> ConnectionType | None:
    return BY_SPEC_ID.get(spec_id)
