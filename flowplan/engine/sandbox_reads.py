"""Reading the sandbox for a plan, with batched `property=` filters run in parallel.

N managed resources of a kind cost ceil(N/100) requests, plus about one per 100 new keys'
names, plus one connection-spec request per spec flowplan has no built-in knowledge of. A
sequential listing would cost the same number of requests but one round trip after another.

What the state manages is asked for by id as soon as the reads start: that needs no resolved
reference, so it goes on while the manifest's references are read (files, secret stores),
and only the look-ups of new keys by name wait for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from flowplan.flowservice.client import FlowServiceClient
from flowplan.kinds.base import Kind
from flowplan.model import Address, Desired, Remote
from flowplan.state.model import State

Job = tuple[Kind, list[str]]


class SandboxReads:
    """One plan's reads: `start` (managed resources, by id), then `finish` (new keys by
    identity, and a second round for managed resources found gone)."""

    def __init__(self, client: FlowServiceClient, kinds: Sequence[Kind], parallelism: int = 8):
        self._client = client
        self._kinds = kinds
        self._pool = ThreadPoolExecutor(max(1, parallelism), thread_name_prefix="flowplan-read")
        self._pending: list[tuple[Kind, Future[list[Remote]]]] = []
        self._asked: set[tuple[str, tuple[str, ...]]] = set()

    def __enter__(self) -> SandboxReads:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # After a failure (a reference that cannot be read, Ctrl-C) queued reads are dropped
        # and those on the wire are not waited for: their outcome is never looked at, and the
        # failure is reported at once, not after their retries.
        self._pool.shutdown(wait=exc is None, cancel_futures=True)

    def start(self, state: State) -> None:
        """Ask for every resource the state manages."""
        self._submit(
            [
                (kind, query)
                for kind in self._kinds
                for query in kind.remote_queries(sorted(state.ids_of(kind.name)), ())
            ]
        )

    def finish(self, desired: Mapping[Address, Desired], state: State) -> dict[str, list[Remote]]:
        """Every kind's remote records, one per id: what `start` asked for and the new keys'
        look-ups. A managed resource found gone is then looked for by identity: an
        interrupted re-create may have made it."""
        found: dict[str, dict[str, Remote]] = {kind.name: {} for kind in self._kinds}
        new_keys = [
            (kind, query)
            for kind in self._kinds
            for query in kind.remote_queries((), _new_keys(desired, kind, state))
        ]
        self._submit(new_keys)
        self._collect(found)
        gone = [
            (kind, query)
            for kind in self._kinds
            for query in kind.remote_queries((), _gone(desired, kind, state, found[kind.name]))
        ]
        self._submit(gone, again=True)
        self._collect(found)
        return {name: list(by_id.values()) for name, by_id in found.items()}

    def _submit(self, jobs: Sequence[Job], again: bool = False) -> None:
        # unfiltered listings first: they follow every page one after another (Data Prep's
        # mapping sets: 6 pages for 500) and set the round's length; filtered queries are one
        # page each. A query already asked (a kind that lists everything for both managed and
        # new keys) is not asked twice, except in the round for resources found gone.
        for kind, filters in sorted(jobs, key=lambda job: bool(job[1])):
            key = (kind.name, tuple(filters))
            if key in self._asked and not again:
                continue
            self._asked.add(key)
            future = self._pool.submit(kind.list_remote, self._client, filters)
            self._pending.append((kind, future))

    def _collect(self, found: dict[str, dict[str, Remote]]) -> None:
        pending, self._pending = self._pending, []
        for kind, future in pending:
            for remote in future.result():
                found[kind.name][remote.id] = remote


def _new_keys(desired: Mapping[Address, Desired], kind: Kind, state: State) -> list[Desired]:
    return [d for a, d in desired.items() if a.kind == kind.name and state.get(a) is None]


def _gone(
    desired: Mapping[Address, Desired], kind: Kind, state: State, found: Mapping[str, Remote]
) -> list[Desired]:
    """The kind's managed keys whose resource is not among those `found`."""
    return [
        d
        for a, d in desired.items()
        if a.kind == kind.name and (entry := state.get(a)) is not None and entry.id not in found
    ]
