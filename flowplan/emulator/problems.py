"""What every part of the emulator shares: who calls, the API's error, and the clock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


class ApiProblem(Exception):
    """An API error: status, FLOW code (as in the Flow Service error table) and message.

    `kind` is the resource family the error is about (`report.type` of the FLOW body)."""

    def __init__(
        self, status: int, code: str, title: str, message: str, kind: str = "connections"
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.title, self.message = status, code, title, message
        self.kind = kind


def bad_request(code: str, message: str, kind: str = "connections") -> ApiProblem:
    return ApiProblem(400, code, "Invalid request", message, kind)


def not_found(resource_id: str, kind: str = "connections") -> ApiProblem:
    # The documented example (LBL) is FLOW-1439-404 for flows; FSE lists 1101-404 for "Resource
    # not found". GUESS: 1101 for every kind, with the documented wording.
    return ApiProblem(
        404,
        "1101",
        "Resource not found",
        f"The requested {kind} resource {resource_id} is not found. "
        "Verify the resource ID before trying again.",
        kind,
    )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a call, from the request's headers."""

    org: str
    sandbox: str
    client: str  # the x-api-key (IMS client id)


class Clock:
    """The emulator's notion of now, in epoch seconds: the wall clock, optionally sped up
    (`time_scale`) from the moment the emulator was made, plus whatever tests `advance()`d."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._scale = time_scale
        self._origin = time.time()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            real = time.time()
            return self._origin + (real - self._origin) * self._scale + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds
