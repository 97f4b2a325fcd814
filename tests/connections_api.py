"""Connection calls for the client tests, through the generic client and the connection kind
(what the engine uses), named as the tests read best."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowplan.flowservice.client import Created, FlowServiceClient
from flowplan.kinds.connection import ConnectionKind
from flowplan.model import Remote


class Connections:
    def __init__(self, client: FlowServiceClient) -> None:
        self.client = client
        self.kind = ConnectionKind()

    def list(self, filters: Sequence[str] = ()) -> list[Remote]:
        return self.kind.list_remote(self.client, filters)

    def get(self, conn_id: str) -> Remote:
        return self.kind.fetch(self.client, conn_id)

    def create(self, body: dict[str, Any]) -> Created:
        return self.client.create("connections", body)

    def patch(self, conn_id: str, etag: str, ops: list[dict[str, Any]]) -> str:
        return self.client.patch("connections", conn_id, etag, ops)

    def delete(self, conn_id: str) -> None:
        self.client.delete("connections", conn_id)
