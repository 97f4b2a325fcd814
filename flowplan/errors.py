"""flowplan's own exceptions.

Every error a user can cause or meet (bad input, HTTP failure, a held lock, a stale plan) is a
`FlowplanError`; the CLI turns it into one message and exit code 1. Anything else is a bug.
Messages are written for the person running the command and never contain a secret.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlowplanError(Exception):
    """Base of every expected error."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in an input file, located at a 1-based line and column."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: error: {self.message}"


class ManifestError(FlowplanError):
    """The manifest cannot be used; carries every problem found, sorted by position."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.col, d.message))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ConfigError(FlowplanError):
    """Missing or invalid settings (environment variables, flags)."""


class ReferenceResolutionError(FlowplanError):
    """`${env:…}` or `${file:…}` references that could not be resolved."""


class StateError(FlowplanError):
    """The state file is unusable: corrupt, newer format, other org or sandbox."""


class StateConflictError(StateError):
    """A state write lost its compare-and-swap: someone else wrote the state in between."""


class LockError(FlowplanError):
    """Another process holds the state lock."""


class PlanError(FlowplanError):
    """The planner refuses: ambiguous adoption, protected delete, bad target."""


class StalePlanError(FlowplanError):
    """A saved plan no longer matches the state, the manifest or the secrets."""


class EmulatorError(FlowplanError):
    """The emulator cannot serve: its port is in use, its address is unusable."""


class ApplyError(FlowplanError):
    """Some changes failed; the others were applied and recorded."""


class ApiError(FlowplanError):
    """A Flow Service or IMS call failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        details = []
        if status is not None:
            details.append(f"HTTP {status}")
        if code:
            details.append(f"code {code}")
        if request_id:
            details.append(f"request id {request_id}")
        where = f"{method} {path}: " if method else ""
        suffix = f" ({', '.join(details)})" if details else ""
        super().__init__(f"{where}{message}{suffix}")


class AuthError(ApiError):
    """401/403: missing, invalid or unentitled credentials."""


class NotFoundError(ApiError):
    """404: the connection does not exist in this sandbox."""


class ConflictError(ApiError):
    """412: the connection changed since its etag was read."""


class RejectedError(ApiError):
    """Other 4xx: the API refused the request as invalid."""


class RateLimitedError(ApiError):
    """429 after every retry."""


class ServerError(ApiError):
    """5xx after every retry."""


class NetworkError(ApiError):
    """No HTTP answer: connection refused, reset, or timed out."""


class UnexpectedAnswerError(ApiError):
    """An answer the API does not document: a redirect, HTML, a malformed body, a paging loop."""


class OutcomeUnknownError(ApiError):
    """A create may or may not have happened (timeout, dropped connection, 500/502/504).

    The caller must look the connection up by name before trying again.
    """
