"""A base connection as Flow Service returns it, read defensively into RemoteConnection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowplan.flowservice.answers import Where
from flowplan.model import Attributes, RemoteConnection, SpecRef

_SECONDS_BEFORE = 100_000_000_000  # an epoch below this is in seconds (ms would be 1973)


@dataclass(frozen=True)
class CreatedConnection:
    id: str
    etag: str


def parse_connection(item: dict[str, Any], where: Where | None = None) -> RemoteConnection:
    """The connection in `item`; an ApiError naming the field when its shape is not the API's."""
    where = where or Where("GET", "/connections")
    conn_id = item.get("id")
    if not isinstance(conn_id, str) or not conn_id:
        raise where.error("a connection in the answer has no id")
    auth = _object(item, "auth", where)
    spec = _object(item, "connectionSpec", where)
    params = _object(auth, "params", where)
    description = item.get("description")
    return RemoteConnection(
        id=conn_id,
        etag=_text(item, "etag"),
        attributes=Attributes(
            spec=SpecRef(_text(spec, "id").lower(), _text(spec, "version") or "1.0"),
            name=_text(item, "name"),
            description=None if description is None else str(description),
            auth_spec_name=_text(auth, "specName"),
            params=params,
        ),
        state=_text(item, "state"),
        updated_by=_text(item, "updatedBy"),
        updated_at=epoch_ms(item.get("updatedAt"), f"updatedAt of connection {conn_id}", where),
        updated_client=_text(item, "updatedClient"),
    )


def epoch_ms(value: object, what: str, where: Where) -> int:
    """Epoch milliseconds from what the API sends (ms), or seconds, a numeric string or an
    ISO 8601 date; a clear error for anything else. Absent is 0."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise where.error(f"{what} is not a date: {value!r}")
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return _iso_ms(value, what, where)
    if number is None or number != number or abs(number) == float("inf"):
        raise where.error(f"{what} is not a date: {str(value)[:40]!r}")
    return int(number * 1000 if abs(number) < _SECONDS_BEFORE else number)


def _iso_ms(text: str, what: str, where: Where) -> int:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise where.error(f"{what} is not a date: {text[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _object(parent: dict[str, Any], key: str, where: Where) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(f"`{key}` of a connection in the answer is not an object")
    return dict(value)


def _text(parent: dict[str, Any], key: str) -> str:
    value = parent.get(key)
    return "" if value is None else str(value)
