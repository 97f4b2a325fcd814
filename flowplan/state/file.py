"""The state file: where the file backend and the store were always imported from.

`StateStore` (flowplan.state.store) reads and writes a state wherever it lives;
`StateStore(path)` is the state file. `FileBackend` and `atomic_write` (flowplan.state.local)
are the file backend and its atomic writer (temporary file, fsync, rename).
"""

from __future__ import annotations

from flowplan.state.local import FileBackend, atomic_write
from flowplan.state.store import StateStore

__all__ = ["FileBackend", "StateStore", "atomic_write"]
