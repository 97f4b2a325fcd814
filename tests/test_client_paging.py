"""Listings as real clients do them: filters kept on every page, de-duplicated, and bounded."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest
from connections_api import Connections
from test_client_fake import FLOW, PREP, FakeServer, Reply, Request, ok, serve_fixture  # noqa: F401

from flowplan.errors import ApiError, NetworkError, UnexpectedAnswerError
from flowplan.flowservice.client import FlowServiceClient

Serve = Callable[[Callable[[Request], Reply]], FakeServer]

SPEC_A, SPEC_B = "aaaa", "bbbb"


def strict_flow_service(items: list[dict[str, Any]], page: int = 2) -> Callable[[Request], Reply]:
    """Like the real service: next links hold only the token, and a page whose query differs
    from the first page's (beside the token) is refused with 400."""
    first: dict[str, list[tuple[str, str]]] = {}

    def route(req: Request) -> Reply:
        query = [(k, v) for k, v in req.query if k != "continuationToken"]
        token = dict(req.query).get("continuationToken")
        if token is None:
            first["query"] = query
        elif query != first.get("query"):
            return ok({"title": "query differs from the first page's"}, 400)
        wanted = [v.split("==", 1)[1] for k, v in query if k == "property"]
        matching = [i for i in items if all(i["connectionSpec"]["id"] == w for w in wanted)]
        start = int(token or 0)
        body: dict[str, Any] = {"items": matching[start : start + page]}
        if start + page < len(matching):
            body["_links"] = {"next": {"href": f"/connections?continuationToken={start + page}"}}
        return ok(body)

    return route


def conn(i: int, spec: str) -> dict[str, Any]:
    return {"id": f"id-{i}", "etag": f'"{i}"', "name": f"c{i}", "connectionSpec": {"id": spec}}


def test_every_page_keeps_the_filters(serve: Serve) -> None:
    items = [conn(i, SPEC_A if i % 3 else SPEC_B) for i in range(20)]
    fake = serve(strict_flow_service(items))
    client = fake.client()
    found = client.list("connections", [f"connectionSpec.id=={SPEC_B}"])
    assert [f["id"] for f in found] == [
        i["id"] for i in items if i["connectionSpec"]["id"] == SPEC_B
    ]
    pages = [r.query for r in fake.requests]
    assert len(pages) == 4  # 7 matches, 2 a page
    for query in pages:
        assert ("property", f"connectionSpec.id=={SPEC_B}") in query
        assert ("limit", "100") in query
        assert ("orderby", "createdAt") in query
    assert [dict(q).get("continuationToken") for q in pages] == [None, "2", "4", "6"]
    # the deprecated wrapper goes the same way
    assert len(Connections(client).list([f"connectionSpec.id=={SPEC_B}"])) == 7


def test_duplicates_across_pages_are_dropped(serve: Serve) -> None:
    pages = {
        None: {
            "items": [conn(1, SPEC_A), conn(2, SPEC_A)],
            "_links": {"next": {"href": "/c?continuationToken=t"}},
        },
        "t": {"items": [conn(2, SPEC_A), conn(3, SPEC_A)]},
    }
    fake = serve(lambda req: ok(pages[dict(req.query).get("continuationToken")]))
    assert [i["id"] for i in fake.client().list("flows")] == ["id-1", "id-2", "id-3"]


def test_caller_params_override_defaults(serve: Serve) -> None:
    fake = serve(lambda req: ok({"items": []}))
    fake.client().list("runs", ["flowId==f1"], params=[("orderby", "-createdAt"), ("limit", "5")])
    assert sorted(fake.requests[0].query) == sorted(
        [("property", "flowId==f1"), ("orderby", "-createdAt"), ("limit", "5")]
    )
    assert fake.requests[0].path == f"{FLOW}/runs"


@pytest.mark.parametrize(
    "links",
    [
        [
            "/connections?continuationToken=a",
            "/connections?continuationToken=b",
            "/connections?continuationToken=a",
        ],
        ["/connections?continuationToken=a", "/connections?continuationToken=a"],
    ],
)
def test_a_next_link_back_to_an_earlier_page_is_an_error(serve: Serve, links: list[str]) -> None:
    calls = iter(range(100))

    def route(req: Request) -> Reply:
        n = next(calls)
        return ok(
            {
                "items": [conn(n, SPEC_A)],
                "_links": {"next": {"href": links[min(n, len(links) - 1)]}},
            }
        )

    fake = serve(route)
    with pytest.raises(UnexpectedAnswerError, match="points back to a page already read"):
        fake.client().list("connections")
    assert len(fake.requests) <= len(links) + 1


def test_a_next_link_without_a_token_is_an_error(serve: Serve) -> None:
    body = {"items": [conn(1, SPEC_A)], "_links": {"next": {"href": "/connections?limit=100"}}}
    fake = serve(lambda req: ok(body))
    with pytest.raises(UnexpectedAnswerError, match="no continuationToken"):
        fake.client().list("connections")
    assert len(fake.requests) == 1


def endless(req: Request) -> Reply:
    n = int(dict(req.query).get("continuationToken") or 0)
    return ok(
        {"items": [conn(n, SPEC_A)], "_links": {"next": {"href": f"/x?continuationToken={n + 1}"}}}
    )


def test_pages_per_listing_are_capped(serve: Serve) -> None:
    fake = serve(endless)
    client = FlowServiceClient(dataclasses.replace(fake.settings(), max_pages=25))
    with pytest.raises(UnexpectedAnswerError, match="did not end after 25 pages"):
        client.list("connections")
    assert len(fake.requests) == 25
    assert FlowServiceClient(fake.settings()).settings.max_pages == 10_000


def test_a_listing_is_capped_in_time(serve: Serve) -> None:
    def slow(req: Request) -> Reply:
        time.sleep(0.1)
        return endless(req)

    fake = serve(slow)
    client = FlowServiceClient(dataclasses.replace(fake.settings(), listing_timeout=0.5))
    start = time.monotonic()
    with pytest.raises(NetworkError, match=r"took longer than 0\.5 s"):
        client.list("connections")
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"items": {"id": "x"}}, "`items` in the answer was a JSON dict, not a list"),
        ({"items": ["x"]}, "an entry of `items` was a JSON string"),
        ({"items": [{"name": "no id"}]}, "an entry of `items` has no id"),
        ({"items": [], "_links": []}, "`_links` in the answer is not an object"),
        ({"items": [], "_links": {"next": {"href": 5}}}, "`_links.next.href`"),
        ([{"id": "x"}], "the answer was a JSON list, not an object"),
    ],
)
def test_malformed_pages_are_clear_errors(serve: Serve, body: Any, message: str) -> None:
    fake = serve(lambda req: ok(body))
    with pytest.raises(UnexpectedAnswerError, match=message.replace("(", r"\(")):
        fake.client().list("connections")


# --- Data Prep ---------------------------------------------------------------------------------


def prep_route(total: int, honour_start: bool = True) -> Callable[[Request], Reply]:
    sets = [{"id": f"m{i}", "version": 0} for i in range(total)]

    def route(req: Request) -> Reply:
        q = dict(req.query)
        start = int(q["start"]) if honour_start else 0
        limit = int(q["limit"])
        return ok({"data": sets[start : start + limit], "_page": {"count": len(sets)}})

    return route


def test_data_prep_lists_page_by_start_and_limit(serve: Serve) -> None:
    fake = serve(prep_route(250))
    found = fake.client().list("mappingSets", service="conversion")
    assert [f["id"] for f in found] == [f"m{i}" for i in range(250)]
    assert all(r.path == f"{PREP}/mappingSets" for r in fake.requests)
    assert [dict(r.query)["start"] for r in fake.requests] == ["0", "100", "200"]


def test_data_prep_page_repeating_itself_is_an_error(serve: Serve) -> None:
    fake = serve(prep_route(250, honour_start=False))
    with pytest.raises(UnexpectedAnswerError, match="repeats entries already read"):
        fake.client().list("mappingSets", service="conversion")
    assert len(fake.requests) == 2


def test_filters_are_flow_service_only(serve: Serve) -> None:
    fake = serve(prep_route(1))
    with pytest.raises(ValueError, match="no property= filters"):
        fake.client().list("mappingSets", ["x==1"], service="conversion")
    assert issubclass(UnexpectedAnswerError, ApiError)
