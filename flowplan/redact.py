"""The last line of defence: every secret value flowplan resolves is registered here, and every
error message, output line and log record is scrubbed of them before it is printed.

flowplan never puts a secret into a message itself; this covers what it does not control, such
as an API error that quotes back a value it was sent. A secret is found raw, JSON-escaped,
URL-encoded (`quote` and `quote_plus`), and cut by truncation: a long prefix of it at the end of
a line (optionally followed by `...`), or a long suffix at the start of one.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "(sensitive value)"
_MIN_LENGTH = 4  # shorter values would mask ordinary words
_MIN_CUT = 12  # a truncated piece this long (or half the secret, if shorter) is masked
_LINE_END = re.compile(r"(?:\.\.\.|…)?['\"\)\]\}>]*[ \t]*$")

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []  # longest first, rebuilt on registration
# Values registered, with all their spellings: a plan registers the same few secrets once per
# connection, and spelling them out again took most of the time of resolving its references.
_registered: set[str] = set()


def register(value: str) -> None:
    """Remember a secret (and its encoded spellings) so that scrub masks it."""
    if len(value) < _MIN_LENGTH or value in _registered:
        return
    variants = {value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)}
    with _lock:
        if not variants <= _secrets:
            _secrets.update(variants)
            _ordered[:] = sorted(_secrets, key=len, reverse=True)
        _registered.add(value)  # last: a value found here is already masked


def scrub(text: str) -> str:
    """`text` with every registered secret, whole or cut by truncation, masked."""
    with _lock:
        known = list(_ordered)
    if not known or not text:
        return text
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return _scrub_cut(text, known)


def _cut_length(secret: str) -> int:
    return max(_MIN_LENGTH, min(_MIN_CUT, (len(secret) + 1) // 2))


def _scrub_cut(text: str, known: list[str]) -> str:
    """Mask a secret's prefix that ends a line and a secret's suffix that starts one."""
    for secret in known:
        cut = _cut_length(secret)
        if cut >= len(secret):
            continue
        head, tail = secret[:cut], secret[-cut:]
        if head in text or tail in text:
            text = "".join(_scrub_line(line, secret, head, tail) for line in _lines(text))
    return text


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [text]


def _scrub_line(line: str, secret: str, head: str, tail: str) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    start = body.find(head)
    while start != -1:
        end = _LINE_END.search(body, start).start()  # type: ignore[union-attr]  # always matches
        if secret.startswith(body[start:end]) and end - start >= len(head):
            body = body[:start] + MASK + body[end:]
            break
        start = body.find(head, start + 1)
    start = body.find(tail)
    while start != -1:
        stop = start + len(tail)
        if secret.endswith(body[:stop].lstrip(" \t'\"([{<")):
            lead = len(body[:stop]) - len(body[:stop].lstrip(" \t'\"([{<"))
            body = body[:lead] + MASK + body[stop:]
            break
        start = body.find(tail, start + 1)
    return body + ending


def scrub_obj(obj: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string scrubbed: for
    structured output, before it is encoded."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub_obj(k): scrub_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub_obj(v) for v in obj]
    return obj


class ScrubFilter(logging.Filter):
    """Attach to a handler: formats each record once and scrubs the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record)
        return True


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    record.msg = scrub(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


_installed = False


def install_log_filter() -> None:
    """Scrub every log record flowplan's process makes, whatever handler emits it: records are
    scrubbed as they are made (a log record factory, so pytest's and any later handler see
    only scrubbed text), and the handlers present now also get a ScrubFilter. Idempotent."""
    global _installed
    with _lock:
        if not _installed:
            logging.setLogRecordFactory(_scrubbing_factory(logging.getLogRecordFactory()))
            _installed = True
    for handler in [*logging.getLogger().handlers, logging.lastResort]:
        if handler is not None and not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())


def _scrubbing_factory(
    make: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _scrub_record(record)
        return record

    return factory
