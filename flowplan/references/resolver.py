"""Reading references' values, only at plan and apply.

`${var:…}` is gone by now (the manifest loader expands it). Every distinct reference is read
once per run: `prefetch` reads the manifest's files and secret-store references in parallel
before the engine asks for values, and `resolve` reads what was not prefetched on first use.
Every secret value is registered with `redact` as soon as it is read, and no error message
ever holds a value: a problem names the reference.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from flowplan import redact
from flowplan.references.files import MAX_FILE_BYTES, FileProblem, file_roots, read_file
from flowplan.references.stores import SecretStores, StoreError
from flowplan.references.template import (
    STORE_KINDS,
    Ref,
    RefSyntaxError,
    Template,
    parse,
)

__all__ = [
    "MAX_FILE_BYTES",
    "STORE_KINDS",
    "Ref",
    "RefSyntaxError",
    "Resolver",
    "Template",
    "parse",
]

PARALLELISM = 8
_Outcome = tuple[str | None, str | None]  # (value, problem)


class Resolver:
    """Reads references from the environment, from files and from secret stores."""

    def __init__(
        self,
        env: Mapping[str, str],
        base_dir: Path,
        stores: SecretStores | None = None,
    ) -> None:
        self.env = env
        self.base_dir = base_dir
        self.stores = stores or SecretStores(env)
        self._roots = file_roots(base_dir, env)
        self._lock = threading.Lock()
        self._cache: dict[Ref, Future[_Outcome]] = {}
        # outcomes already read, for a lock-free answer (a manifest repeats its references)
        self._known: dict[Ref, _Outcome] = {}

    @classmethod
    def from_os(cls, base_dir: Path) -> Resolver:
        return cls(dict(os.environ), base_dir)

    def prefetch(self, items: Iterable[Template | Ref], parallelism: int = PARALLELISM) -> None:
        """Read every distinct file and secret-store reference in `items` at once (a thread
        pool); problems are reported later, by `resolve`, with the value that needs them."""
        todo: list[tuple[Ref, Future[_Outcome]]] = []
        with self._lock:
            for ref in _refs(items):
                if ref.kind != "env" and ref not in self._cache:
                    future: Future[_Outcome] = Future()
                    self._cache[ref] = future
                    todo.append((ref, future))
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(todo)))) as pool:
            for ref, future in todo:
                pool.submit(self._fill, ref, future)

    def resolve(self, template: Template, missing: list[str], *, secret: bool = False) -> str:
        """The value, or "" after appending what is missing (so every problem is reported).

        `secret` (or `template.secret`): the value is a secret param's, so it is registered
        with redact and must not be empty (a secret-store reference always is secret)."""
        secret = secret or template.secret
        out: list[str] = []
        for part in template.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value, problem = self._outcome(part)
            if problem is not None:
                missing.append(problem)
            elif (secret or part.is_store) and not value:
                missing.append(f"{part} is empty; a secret cannot be empty")
            out.append(value or "")
        text = "".join(out)
        if secret:
            redact.register(text)
        return text

    def _outcome(self, ref: Ref) -> _Outcome:
        known = self._known.get(ref)
        if known is not None:
            return known
        with self._lock:
            future = self._cache.get(ref)
            mine = future is None
            if future is None:
                future = self._cache[ref] = Future()
        if mine:
            self._fill(ref, future)
        outcome = future.result()
        self._known[ref] = outcome
        return outcome

    def _fill(self, ref: Ref, future: Future[_Outcome]) -> None:
        try:
            value = self._read(ref)
        except (FileProblem, StoreError) as exc:
            future.set_result((None, _problem(ref, exc)))
        except Exception as exc:  # a driver's bug must not leave a waiter hanging
            future.set_result((None, f"{ref}: cannot be read ({exc.__class__.__name__})"))
        else:
            if ref.is_store:
                redact.register(value)
            future.set_result((value, None))

    def _read(self, ref: Ref) -> str:
        if ref.kind == "env":
            value = self.env.get(ref.target)
            if value is None:
                raise StoreError(f"environment variable {ref.target} is not set")
            return value
        if ref.kind == "file":
            return read_file(ref.target, self.base_dir, self._roots)
        if ref.kind in STORE_KINDS:
            return self.stores.fetch(ref)
        raise StoreError(f"{ref} was not expanded when the manifest was loaded")


def _problem(ref: Ref, exc: Exception) -> str:
    if ref.kind in ("env", "file"):
        return str(exc)  # "environment variable X is not set", "file X …": they name it
    return f"{ref}: {exc}"


def _refs(items: Iterable[Template | Ref]) -> Iterable[Ref]:
    for item in items:
        if isinstance(item, Ref):
            yield item
        else:
            yield from item.refs
