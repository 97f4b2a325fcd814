"""Progress lines written in batches: one write (and flush) for the lines of up to BATCH_S.

Workers printing a line each (click.echo: a terminal check, a write, a flush) gave the
interpreter lock away three times per change, and each time waited to get it back while
the other workers parsed answers (#18). Here a worker only appends; a small thread writes.
A line is out at most BATCH_S after it was added, and every line is out when close() or
flush() returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

BATCH_S = 0.05


class LineBatcher:
    def __init__(self, write: Callable[[str], None], batch_s: float = BATCH_S) -> None:
        self._write = write  # called with the batch's text, each line ending in a newline
        self._batch_s = batch_s
        self._lines: list[str] = []
        self._lock = threading.Lock()  # guards _lines
        self._write_lock = threading.Lock()  # batches are written one at a time, in order
        self._pending = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="flowplan-output", daemon=True)
        self._thread.start()

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line + "\n")
            first = len(self._lines) == 1
        if first:
            self._pending.set()

    def flush(self, timeout: float = -1) -> None:
        """Write what was added; with a `timeout`, give up rather than wait longer for a
        write in progress (a signal handler may have interrupted it in this very thread)."""
        if not self._write_lock.acquire(timeout=timeout):
            return
        try:
            if not self._lock.acquire(timeout=timeout):
                return
            lines, self._lines = self._lines, []
            self._lock.release()
            if lines:
                self._write("".join(lines))
        finally:
            self._write_lock.release()

    def close(self) -> None:
        self._closed = True
        self._pending.set()
        self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._pending.wait()
            self._pending.clear()
            if not self._closed:
                self._pending.wait(self._batch_s)  # let the lines of the next moments gather
            self.flush()
