"""Reading an answer defensively: documented statuses only, bodies of the documented shape.

Anything else becomes one of flowplan's ApiErrors with a message for the person running the
command (never a KeyError or TypeError traceback). For a create, an answer that is not the
documented success means the outcome is unknown: something may have been created.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from flowplan.errors import (
    ApiError,
    AuthError,
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UnexpectedAnswerError,
)

UNKNOWN = "the create may or may not have happened"


class Answer:
    """One HTTP answer, read in full: status, headers (case-insensitive) and body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        """The body as JSON, decoded as the Content-Type's charset says (UTF-8 by default);
        ValueError when it is not JSON."""
        charset = "utf-8"
        for param in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip("\"'")
        try:
            known = codecs.lookup(charset)
        except LookupError:
            charset = "utf-8"
        else:  # `hex`, `rot13`, `zlib`... are codecs, not text encodings
            charset = charset if getattr(known, "_is_text_encoding", True) else "utf-8"
        return json.loads(self.content.decode(charset, "replace"))


class Where:
    """Method and shown path of one call, and whether it is a create (outcome unknown)."""

    __slots__ = ("creates", "method", "path")

    def __init__(self, method: str, path: str, creates: bool = False) -> None:
        self.method = method
        self.path = path
        self.creates = creates

    def error(self, message: str, status: int | None = None) -> ApiError:
        """A malformed or undocumented answer: unknown outcome for a create."""
        if self.creates:
            return OutcomeUnknownError(
                f"{message}; {UNKNOWN}", status=status, method=self.method, path=self.path
            )
        return UnexpectedAnswerError(message, status=status, method=self.method, path=self.path)


def check_status(response: Answer, where: Where, expected: Collection[int]) -> None:
    """Raise unless the status is one the operation documents as success."""
    status = response.status_code
    if status in expected:
        return
    if status >= 400:
        raise error_for(response, where.method, where.path)
    wanted = " or ".join(str(s) for s in sorted(expected))
    message = f"the service answered HTTP {status} where the API documents {wanted}"
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        parts = urlsplit(location)
        shown = f" to {parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else ""
        message += (
            f"; it redirects{shown}, and flowplan follows no redirect (is FLOWPLAN_ENDPOINT right?)"
        )
    raise where.error(message, status)


def json_object(response: Answer, where: Where) -> dict[str, Any]:
    """The answer's JSON object, or a clear error saying what came instead."""
    try:
        data = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no type"
        raise where.error(f"the answer was not JSON ({kind})", response.status_code) from None
    if not isinstance(data, dict):
        raise where.error(
            f"the answer was a JSON {_kind(data)}, not an object", response.status_code
        )
    return data


def object_list(data: dict[str, Any], key: str, where: Where) -> list[dict[str, Any]]:
    """`data[key]` as a list of objects each with a string id; absent means empty."""
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise where.error(f"`{key}` in the answer was a JSON {_kind(items)}, not a list")
    for item in items:
        if not isinstance(item, dict):
            raise where.error(f"an entry of `{key}` was a JSON {_kind(item)}, not an object")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise where.error(f"an entry of `{key}` has no id")
    return items


def text_field(data: dict[str, Any], key: str, where: Where) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise where.error(f"the answer has no `{key}`")
    return value


def _kind(value: object) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


_HINTS = {
    401: "the access token is invalid or expired; get a new one (or unset AEP_ACCESS_TOKEN to "
    "use AEP_CLIENT_ID/AEP_CLIENT_SECRET)",
    403: "the credentials are not allowed here; check AEP_API_KEY, AEP_ORG_ID and the "
    "product profile",
    404: "it does not exist in this sandbox (deleted, or in another sandbox?)",
    412: "the connection was changed by someone else since it was read; run plan again",
    429: "Flow Service is rate-limiting; try again later or lower --parallelism",
}


def error_for(response: Answer, method: str, path: str) -> ApiError:
    """The typed error for a 4xx/5xx answer, with the API's code and request id."""
    status = response.status_code
    code, message, request_id = _problem(response)
    request_id = request_id or response.headers.get("x-request-id")
    hint = _HINTS.get(status)
    text = f"{message}; {hint}" if message and hint else message or hint or "request failed"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "method": method,
        "path": path,
    }
    if method == "POST" and status in (500, 502, 504):
        return OutcomeUnknownError(f"{text}; {UNKNOWN}", **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status == 412:
        return ConflictError(text, **kwargs)
    if status == 429:
        return RateLimitedError(text, **kwargs)
    if status >= 500:
        return ServerError(f"{text or 'server error'}; try again later", **kwargs)
    return RejectedError(text, **kwargs)


def _problem(response: Answer) -> tuple[str | None, str, str | None]:
    """(code, message, request id) from the FLOW problem shape or the gateway's shape."""
    try:
        data = response.json()
    except ValueError:
        return None, "", None
    if not isinstance(data, dict):
        return None, "", None
    if "error_code" in data:
        return str(data["error_code"]), str(data.get("message", ""))[:500], None
    report = data.get("report")
    if not isinstance(report, dict):
        report = {}
    code = None
    kind = str(data.get("type", ""))
    if "FLOW-" in kind:
        code = kind.rsplit("FLOW-", 1)[1]
    message = (
        report.get("detailed-message")
        or data.get("errorMessage")
        or data.get("detail")
        or data.get("title")
        or data.get("message")
        or ""
    )
    request_id = report.get("request-id")
    return code, str(message)[:500], str(request_id) if request_id else None
