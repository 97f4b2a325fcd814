"""Recording applied changes into the state, batched."""

from __future__ import annotations

import threading
from dataclasses import replace

from flowplan.errors import FlowplanError
from flowplan.model import Address
from flowplan.state.file import StateStore
from flowplan.state.model import State, StateEntry

FLUSH_INTERVAL_S = 0.2


class StateWriter:
    """Records applied changes, writing the file at most every 200 ms.

    Why batched: rewriting a 10,000-connection state (a few MB) after each of 10,000 changes
    would dominate the run. A change's success is on disk within FLUSH_INTERVAL_S, and
    everything is flushed before apply returns; what a killed process had not written yet is
    found again on the next run by name (adoption), so nothing is lost or duplicated.
    """

    def __init__(self, store: StateStore, state: State) -> None:
        self.store = store
        self.state = state
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._dirty = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="state-writer")
        self._thread.start()

    def record(self, address: Address, entry: StateEntry) -> None:
        with self._lock:
            self.state.put(address, entry)
            self._dirty = True

    def forget(self, address: Address) -> None:
        with self._lock:
            self.state.pop(address)
            self._dirty = True

    def move(self, old: Address, new: Address) -> None:
        with self._lock:
            if self.state.rename(old, new):
                self._dirty = True

    def entry(self, address: Address) -> StateEntry | None:
        with self._lock:
            return self.state.get(address)

    def managed_ids(self, kind: str) -> set[str]:
        """The ids of one kind the state manages, read under the lock other threads write with."""
        with self._lock:
            return self.state.ids_of(kind)

    def flush(self, wait_s: float = -1) -> None:
        """Write what was recorded. Recorders wait for a copy of the entries, not for the disk
        (a 10,000-entry state takes ~0.5 s to write and fsync): the workers keep going (#18).

        With `wait_s`, give up when a save in progress does not end within it: a signal
        handler may have interrupted that very save, in its own thread, and would wait for
        it forever (what that save held is found again by name on the next run)."""
        if not self._save_lock.acquire(timeout=wait_s):
            return
        try:
            self._save(wait_s)
        finally:
            self._save_lock.release()

    def _save(self, wait_s: float) -> None:
        """One save of what was recorded; the caller holds _save_lock (saves go in order)."""
        if not self._lock.acquire(timeout=wait_s):
            return
        try:
            if not self._dirty:
                return
            sections = {name: dict(entries) for name, entries in self.state.sections.items()}
            snapshot = replace(self.state, sections=sections)
            self._dirty = False
        finally:
            self._lock.release()
        try:
            self.store.save(snapshot)
        except BaseException:
            with self._lock:
                self._dirty = True
            raise
        with self._lock:
            self.state.serial, self.state.exists = snapshot.serial, snapshot.exists

    def _run(self) -> None:
        """Background flushes; a failure (a lost compare-and-swap, a full disk) stops them, and
        close() tries once more in the apply's own thread, where a failure is reported."""
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except FlowplanError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()  # raises what failed in the background, if it fails again
