"""Ctrl-C and SIGTERM during an apply (what CI sends when a job is cancelled).

The first signal stops new changes from starting; the ones in flight finish (each request is
bounded by its timeout) and are recorded, the summary is printed, and the apply exits 130
(SIGINT) or 143 (SIGTERM). A second signal flushes what is recorded and exits at once; a
create it cut short is found again by name on the next run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

import click

from flowplan.state.writer import StateWriter

# A second signal waits this long for a save in progress: one that it interrupted in its own
# thread never ends, and the process must still leave at once.
SAVE_WAIT_S = 2.0


@dataclass
class Stop:
    event: threading.Event = field(default_factory=threading.Event)
    signal: int | None = None


@contextlib.contextmanager
def interruptible(
    writer: StateWriter, flush_output: Callable[[], None] = lambda: None
) -> Iterator[Stop]:
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.signal is not None:
            with contextlib.suppress(Exception):
                flush_output()  # the lines of what finished, before this one
            click.echo("Stopping now; what finished is recorded.", err=True)
            with contextlib.suppress(Exception):
                writer.flush(wait_s=SAVE_WAIT_S)
            os._exit(128 + stop.signal)
        stop.signal = signum
        stop.event.set()
        click.echo(
            "Interrupted: no new change will start; waiting for those in flight "
            "(interrupt again to stop at once).",
            err=True,
        )

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
