"""The state as flowplan reads and writes it, wherever it lives.

`StateStore` turns a backend's bytes into a `State` and back: it refuses a damaged state with a
message naming where the previous version is, checks the org and sandbox, and remembers the
version it read so that every `save` is a compare-and-swap against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowplan.errors import StateError
from flowplan.state.backend import StateBackend, Token
from flowplan.state.local import FileBackend
from flowplan.state.model import State


class StateStore:
    """One state: load, save (compare-and-swap), lock; backend-agnostic."""

    def __init__(self, backend: StateBackend | Path) -> None:
        self.backend = FileBackend(backend) if isinstance(backend, Path) else backend
        self._token: Token = None

    def describe(self) -> str:
        return self.backend.describe()

    def load(self, org: str, sandbox: str) -> State:
        """The state for this org and sandbox (a new, unwritten one if there is none)."""
        state = self.load_any()
        if state is None:
            return State.new(org, sandbox)
        if state.org != org or state.sandbox != sandbox:
            raise StateError(
                f"{self.describe()} was written for org {state.org}, sandbox {state.sandbox}, "
                f"not org {org}, sandbox {sandbox}; use the right --state for this sandbox"
            )
        return state

    def load_any(self) -> State | None:
        """The stored state whatever its org and sandbox, or None if there is none (for the
        commands that only look at the state and need no Flow Service credentials)."""
        payload, self._token = self.backend.read()
        if payload is None:
            return None
        return decode(payload, self.describe(), self.backend.describe_backup())

    def read_bytes(self) -> bytes | None:
        """The stored state as stored, checked to be a readable state."""
        payload, token = self.backend.read()
        if payload is not None:
            decode(payload, self.describe(), self.backend.describe_backup())
        self._token = token
        return payload

    def save(self, state: State) -> None:
        """Write the next serial of `state`, replacing exactly the version last read (or
        requiring that there is none); StateConflictError if someone else wrote in between."""
        state.serial += 1
        try:
            self.save_as_is(state)
        except BaseException:
            state.serial -= 1
            raise

    def save_as_is(self, state: State) -> None:
        """Write `state` with its serial unchanged (push, migrate), as a compare-and-swap."""
        self._token = self.backend.write(serialise(state), self._token)
        state.exists = True

    @contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        """Hold the state's lock for the block; LockError naming the holder if it is held."""
        with self.backend.lock(timeout):
            yield

    def force_unlock(self, lock_id: str) -> str:
        return self.backend.force_unlock(lock_id)

    def close(self) -> None:
        self.backend.close()


def decode(payload: bytes, where: str, backup: str) -> State:
    """The state in `payload`; a damaged one is a StateError naming `where` and `backup`."""
    return State.from_dict(_parse(payload, where, backup), where)


def _parse(payload: bytes, where: str, backup: str) -> Any:
    damaged = f"; nothing was changed. The previous version is {backup}"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise StateError(f"{where}: the state is not UTF-8 text (damaged?){damaged}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise StateError(f"{where}: the state is nested too deeply (damaged?){damaged}") from None
    except ValueError:
        raise StateError(
            f"{where}: the state is not valid JSON (truncated or edited?){damaged}"
        ) from None


def serialise(state: State) -> bytes:
    """Pretty JSON, one entry per line: it diffs line by line like `indent=2`, but json's C
    encoder writes it (with `indent`, json falls back to Python: 66 ms against ~30 ms per save
    of 2,000 entries, during an apply that saves after each batch)."""
    data = state.to_dict()
    fields = []
    for name, value in data.items():
        if isinstance(value, dict) and value:
            entries = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            fields.append(f"  {json.dumps(name)}: {{\n{entries}\n  }}")
        else:
            fields.append(f"  {json.dumps(name)}: {json.dumps(value)}")
    return ("{\n" + ",\n".join(fields) + "\n}\n").encode("utf-8")
