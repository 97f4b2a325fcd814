"""The last line of defence: every secret value flowplan resolves is registered here, and every
error message and log line is scrubbed of them before it is printed.

flowplan never puts a secret into a message itself; this covers what it does not control, such
as an API error that quotes back a value it was sent.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote

MASK = "(sensitive value)"
_MIN_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()


def register(value: str) -> None:
    if len(value) >= _MIN_LENGTH:
        with _lock:
            _secrets.update({value, quote(value, safe="")})


def scrub(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class ScrubFilter(logging.Filter):
    """Attach to a handler: formats each record once and scrubs the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
