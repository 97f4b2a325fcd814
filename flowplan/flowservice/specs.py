"""Connection specs' auth specs: built in (catalog.py), or fetched once from Flow Service."""

from __future__ import annotations

from flowplan.flowservice.catalog import AuthSpec, type_for_spec
from flowplan.flowservice.client import FlowServiceClient


class SpecCatalog:
    """Auth specs by connection spec id: built in, or fetched once from Flow Service."""

    def __init__(self, client: FlowServiceClient | None) -> None:
        self.client = client
        self._fetched: dict[str, tuple[AuthSpec, ...]] = {}
        self._secrets: dict[tuple[str, str], frozenset[str]] = {}

    def auth_specs(self, spec_id: str) -> tuple[AuthSpec, ...]:
        builtin = type_for_spec(spec_id)
        if builtin is not None:
            return builtin.auth_specs
        if spec_id not in self._fetched:
            if self.client is None:
                return ()
            data = self.client.get_connection_spec(spec_id)
            self._fetched[spec_id] = tuple(
                AuthSpec(str(a.get("name", "")), a.get("spec") or {})
                for a in data.get("authSpec") or []
            )
        return self._fetched[spec_id]

    def auth_spec(self, spec_id: str, name: str | None) -> AuthSpec | None:
        specs = self.auth_specs(spec_id)
        if name is None:
            return specs[0] if specs else None
        return next((a for a in specs if a.name == name), None)

    def secret_params(self, spec_id: str, auth_spec_name: str) -> frozenset[str]:
        """Cached: asked once per remote connection, thousands of times per plan."""
        key = (spec_id, auth_spec_name)
        if key not in self._secrets:
            auth = self.auth_spec(spec_id, auth_spec_name)
            self._secrets[key] = auth.secret_params if auth else frozenset()
        return self._secrets[key]
