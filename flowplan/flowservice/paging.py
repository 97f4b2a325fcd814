"""Listings that end: every page followed, the filters kept, loops and runaways stopped.

Flow Service: the first page's query (`property`, `limit`, `orderby`, …) is re-sent for every
page, with the `continuationToken` taken from `_links.next.href`, as Adobe's aepp SDK does; the
real service's next link may hold only the token, and a client that follows it verbatim would
drop its filters. Data Prep: `start`/`limit` offsets over `{"data": [...]}`.

Every listing is bounded: a next link that points back to an earlier page is an error, and so
are more than `Settings.max_pages` pages or more than `Settings.listing_timeout` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flowplan.errors import NetworkError, UnexpectedAnswerError
from flowplan.flowservice.answers import Where, object_list
from flowplan.flowservice.settings import Settings

PAGE_SIZE = 100

Params = list[tuple[str, str]]
Fetch = Callable[[Params], dict[str, Any]]


class _Guard:
    """Counts pages and time, and refuses a page query seen before."""

    def __init__(self, settings: Settings, where: Where) -> None:
        self._where = where
        self._max_pages = settings.max_pages
        self._timeout = settings.listing_timeout
        self._deadline = time.monotonic() + settings.listing_timeout
        self._seen: set[tuple[tuple[str, str], ...]] = set()

    def page(self, params: Params) -> None:
        key = tuple(params)
        w = self._where
        if key in self._seen:
            raise UnexpectedAnswerError(
                "the next page link points back to a page already read "
                f"(page {len(self._seen) + 1}); stopping instead of looping",
                method=w.method,
                path=w.path,
            )
        if len(self._seen) >= self._max_pages:
            raise UnexpectedAnswerError(
                f"the listing did not end after {self._max_pages} pages; stopping",
                method=w.method,
                path=w.path,
            )
        if time.monotonic() > self._deadline:
            raise NetworkError(
                f"the listing took longer than {self._timeout:g} s "
                f"({len(self._seen)} pages read); stopping",
                method=w.method,
                path=w.path,
            )
        self._seen.add(key)


def flow_query(filters: Sequence[str], params: Sequence[tuple[str, str]]) -> Params:
    """The first page's query: our defaults unless the caller set them, filters, params."""
    named = {name for name, _ in params}
    query: Params = [
        (name, value)
        for name, value in (("limit", str(PAGE_SIZE)), ("orderby", "createdAt"))
        if name not in named
    ]
    query += [("property", f) for f in filters]
    query += list(params)
    return query


def flow_pages(fetch: Fetch, query: Params, settings: Settings, where: Where) -> Iterator[Any]:
    """Each Flow Service page's items, following `_links.next.href` with the original query."""
    guard = _Guard(settings, where)
    params = query
    named = {name for name, _ in query}
    while True:
        guard.page(params)
        data = fetch(params)
        yield from object_list(data, "items", where)
        href = _next_href(data, where)
        if href is None:
            return
        extra = [(k, v) for k, v in parse_qsl(urlsplit(href).query) if k not in named]
        if not extra:
            raise where.error("the next page link carries no continuationToken")
        params = query + extra


def _next_href(data: dict[str, Any], where: Where) -> str | None:
    links = data.get("_links")
    if links is None:
        return None
    if not isinstance(links, dict):
        raise where.error("`_links` in the answer is not an object")
    nxt = links.get("next")
    if nxt is None:
        return None
    if not isinstance(nxt, dict):
        raise where.error("`_links.next` in the answer is not an object")
    href = nxt.get("href")
    if href is None or href == "":
        return None
    if not isinstance(href, str):
        raise where.error("`_links.next.href` in the answer is not a string")
    return href


def prep_pages(
    fetch: Fetch, params: Sequence[tuple[str, str]], settings: Settings, where: Where
) -> Iterator[Any]:
    """Each Data Prep page's entries, by `start`/`limit` until a short page."""
    guard = _Guard(settings, where)
    named = {name for name, _ in params}
    size = PAGE_SIZE
    base: Params = [] if "limit" in named else [("limit", str(size))]
    base += [(k, v) for k, v in params if k != "start"]
    for name, value in base:
        if name == "limit" and value.isdigit() and int(value) > 0:
            size = int(value)
    start = 0
    seen: set[str] = set()
    while True:
        page_query = [*base, ("start", str(start))]
        guard.page(page_query)
        entries = object_list(fetch(page_query), "data", where)
        fresh = [e for e in entries if e["id"] not in seen]
        if entries and not fresh:
            raise where.error(
                f"the page at start={start} repeats entries already read; stopping instead of "
                "looping"
            )
        seen.update(e["id"] for e in entries)
        yield from entries
        if len(entries) < size:
            return
        start += len(entries)
