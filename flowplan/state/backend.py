"""Where a state lives: the narrow interface every backend (file, PostgreSQL, S3) implements.

A backend stores opaque bytes. It knows nothing of what a state means; `StateStore` does. Each
read returns a token naming the version read (a content hash, a row generation, an ETag), and
each write is a compare-and-swap against such a token: a write that would replace a version
other than the one read raises StateConflictError instead of silently overwriting it.
"""

from __future__ import annotations

import abc
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass

from flowplan.errors import LockError, StateError

# The version of the state a read saw; None means "there was no state".
Token = str | None

# A state of 10,000 resources is a few MB; anything far larger is damage, not a state.
MAX_STATE_BYTES = 256 * 1024 * 1024

LOCK_POLL_S = 0.2


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: recorded by the holder when it takes the lock, shown to contenders."""

    id: str
    pid: int
    user: str
    host: str
    since: str

    @classmethod
    def mine(cls) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            pid=os.getpid(),
            user=_user(),
            host=socket.gethostname(),
            since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes | None) -> LockInfo | None:
        """The holder recorded in `text`, or None when it is missing or unreadable."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(
                id=str(data["id"]),
                pid=int(data["pid"]),
                user=str(data["user"]),
                host=str(data["host"]),
                since=str(data["since"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def __str__(self) -> str:
        return (
            f"pid {self.pid}, user {self.user}, host {self.host}, since {self.since}, "
            f"lock id {self.id}"
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def lock_held_error(where: str, holder: LockInfo | None, after_death: str = "") -> LockError:
    """The message of a second apply: which state, who holds it, what to do."""
    who = str(holder) if holder is not None else "holder unknown"
    return LockError(
        f"the state {where} is locked by another apply ({who}); wait for it to finish, or "
        f"pass --lock-timeout to wait{after_death}"
    )


def poll_until(try_once: Callable[[], bool], timeout: float, step_s: float = LOCK_POLL_S) -> bool:
    """Call `try_once` until it returns True or `timeout` seconds have passed (at least once)."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        if try_once():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(step_s, left))


def holder_once_named(
    read_holder: Callable[[], LockInfo | None], wait_s: float, step_s: float = LOCK_POLL_S
) -> LockInfo | None:
    """The lock's holder, given up to `wait_s` to name itself: a holder takes the lock, then
    writes its name, and a refused apply that looks in between would say "holder unknown"."""
    found: list[LockInfo] = []

    def named() -> bool:
        found.extend(filter(None, [read_holder()]))
        return bool(found)

    poll_until(named, wait_s, step_s)
    return found[0] if found else None


def check_size(size: int, where: str, backup: str) -> None:
    if size > MAX_STATE_BYTES:
        raise StateError(
            f"{where}: the state is {size} bytes, more than any flowplan state "
            f"({MAX_STATE_BYTES}); it is damaged, nothing was changed. The previous version "
            f"is {backup}"
        )


class StateBackend(abc.ABC):
    """One state's storage: versioned reads, compare-and-swap writes, an exclusive lock."""

    @abc.abstractmethod
    def read(self) -> tuple[bytes | None, Token]:
        """The stored state (None if there is none) and the token of the version read."""

    @abc.abstractmethod
    def write(self, payload: bytes, expected: Token) -> Token:
        """Replace the version `expected` (None: there must be no state yet) with `payload`,
        keeping the replaced version as the backup; raises StateConflictError when the stored
        version is not `expected`. Returns the new version's token."""

    @abc.abstractmethod
    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """Hold the state's lock for the block, waiting up to `timeout` seconds; LockError
        naming the holder when it stays held."""

    @abc.abstractmethod
    def force_unlock(self, lock_id: str) -> str:
        """Release a lock left behind by a holder that died; returns what was done."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The location for messages. Never contains a password."""

    @abc.abstractmethod
    def describe_backup(self) -> str:
        """Where the previous version is kept, for messages."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the backend may be used again afterwards."""
