"""Dates as Flow Service and Data Prep send them: epoch milliseconds, sometimes seconds, a
numeric string or an ISO 8601 date. Anything else is a clear error, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

from flowplan.flowservice.answers import Where

_SECONDS_BEFORE = 100_000_000_000  # an epoch below this is in seconds (ms would be 1973)


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
