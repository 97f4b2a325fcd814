"""A progress line for applies that take a while, on a terminal only: every few seconds,
`Still applying... [10s elapsed] 3 of 10 changes done; in progress: connection.a, …`."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

INTERVAL_S = 10.0  # as Terraform's "Still creating... [10s elapsed]"
SHOWN_IN_FLIGHT = 3


def on_a_terminal() -> bool:
    return sys.stdout.isatty()


class Progress:
    """Counts finished changes; a daemon thread reports while the apply runs."""

    def __init__(self, total: int, write: Callable[[str], None], interval: float) -> None:
        self.total = total
        self.finished = 0
        self.pending: list[str] = []
        self._write = write
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="flowplan-progress", daemon=True)

    def start(self, addresses: list[str]) -> None:
        self.pending = list(addresses)
        self._started = time.monotonic()
        self._thread.start()

    def finished_one(self, address: str) -> None:
        with self._lock:
            self.finished += 1
            if address in self.pending:
                self.pending.remove(address)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def line(self) -> str:
        elapsed = int(time.monotonic() - self._started)
        with self._lock:
            done, waiting = self.finished, list(self.pending)
        text = f"Still applying... [{elapsed}s elapsed] {done} of {self.total} changes done"
        if waiting:
            shown = ", ".join(waiting[:SHOWN_IN_FLIGHT])
            more = (
                f" and {len(waiting) - SHOWN_IN_FLIGHT} more"
                if len(waiting) > SHOWN_IN_FLIGHT
                else ""
            )
            text += f"; waiting for {shown}{more}"
        return text

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._write(self.line())
