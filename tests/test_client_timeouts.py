"""Calls that really end, and retries that say so (issues #12 and #17)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from test_client_fake import (
    TOKEN,
    FakeServer,
    Reply,
    Request,
    fake_settings,
    free_port,
    ok,
    serve_fixture,  # noqa: F401
)

from flowplan.errors import NetworkError, OutcomeUnknownError, ServerError
from flowplan.flowservice import http
from flowplan.flowservice.client import FlowServiceClient

Serve = Callable[[Callable[[Request], Reply]], FakeServer]

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"


def trickle_headers(req: Request) -> Reply:
    return Reply(raw=HEAD + b"{}" * 20, trickle=0.1)  # one byte every 0.1 s: ~10 s in all


def trickle_header_lines(req: Request) -> Reply:
    status, rest = HEAD.split(b"\r\n", 1)
    return Reply(prefix=status + b"\r\n", raw=rest + b"{}" * 20, trickle=0.1)


def trickle_body(req: Request) -> Reply:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
    return Reply(prefix=head, raw=b'{"items": []}'.ljust(400), trickle=0.05)


@pytest.mark.parametrize("route", [trickle_headers, trickle_header_lines, trickle_body])
def test_a_trickling_answer_is_bounded_as_a_whole(
    serve: Serve, route: Callable[..., Reply]
) -> None:
    fake = serve(route)
    client = fake.client(FLOWPLAN_READ_TIMEOUT="0.6", FLOWPLAN_CONNECT_TIMEOUT="0.5")
    start = time.monotonic()
    with pytest.raises(NetworkError, match=r"no complete answer within 0\.6 s"):
        client.list("connections")
    elapsed = time.monotonic() - start
    assert len(fake.requests) == 3  # retried (FLOWPLAN_RETRIES=2), each attempt bounded
    assert elapsed < 3 * (0.6 + 0.5) + 1, elapsed


def test_a_trickling_create_is_outcome_unknown_and_sent_once(serve: Serve) -> None:
    fake = serve(trickle_headers)
    client = fake.client(FLOWPLAN_READ_TIMEOUT="0.5", FLOWPLAN_CONNECT_TIMEOUT="0.5")
    start = time.monotonic()
    with pytest.raises(OutcomeUnknownError, match="may or may not have happened"):
        client.create("connections", {"name": "x"})
    assert time.monotonic() - start < 2.5
    assert len(fake.requests) == 1


def test_the_deadline_spares_the_next_request_on_a_reused_connection(serve: Serve) -> None:
    """A deadline ends with its request: many quick calls on kept-alive connections."""
    fake = serve(lambda req: ok({"items": [{"id": "a"}]}))
    client = fake.client(FLOWPLAN_READ_TIMEOUT="0.3")
    start = time.monotonic()
    while time.monotonic() - start < 1.0:  # past several deadlines of earlier requests
        assert client.get("flows", "a").body == {"id": "a"}


def test_refused_connection_fails_fast_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="flowplan.http")
    base = f"http://127.0.0.1:{free_port()}"
    client = FlowServiceClient(fake_settings(base, FLOWPLAN_BACKOFF="0.5", FLOWPLAN_RETRIES="5"))
    start = time.monotonic()
    with pytest.raises(NetworkError, match="connection refused; is the endpoint right"):
        client.list("connections")
    elapsed = time.monotonic() - start
    assert elapsed < 5.0, elapsed  # the defaults used to wait ~16 s in silence
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert lines, "no retry notice"
    assert lines[0].startswith("GET /connections: connection refused; retrying in ")
    assert "retrying in" in lines[0]
    assert "(attempt 2 of 6)" in lines[0]


def test_retry_notice_names_the_status_and_honours_retry_after(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flowplan.http")
    answers = iter([ok({}, 503, **{"Retry-After": "1"}), ok({}, 429), ok({"items": []})])
    fake = serve(lambda req: next(answers))
    start = time.monotonic()
    assert fake.client().list("connections") == []
    assert time.monotonic() - start >= 1.0
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].endswith(": HTTP 503 with Retry-After; retrying in 1.0 s (attempt 2 of 3)")
    assert ": HTTP 429; retrying in 0.0 s (attempt 3 of 3)" in lines[1]
    for line in lines:
        assert TOKEN not in line


def test_retry_after_is_capped(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "RETRY_AFTER_CAP", 0.2)
    answers = iter([ok({}, 503, **{"Retry-After": "3600"}), ok({"items": []})])
    fake = serve(lambda req: next(answers))
    start = time.monotonic()
    assert fake.client().list("connections") == []
    assert time.monotonic() - start < 1.5


def test_http_date_retry_after(serve: Serve) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 1.5))
    answers = iter([ok({}, 429, **{"Retry-After": when}), ok({"items": []})])
    fake = serve(lambda req: next(answers))
    start = time.monotonic()
    fake.client().list("connections")
    assert time.monotonic() - start >= 0.4


@pytest.mark.parametrize("status", [500, 502, 504])
def test_create_is_not_resent_after_a_5xx(serve: Serve, status: int) -> None:
    fake = serve(lambda req: ok({}, status))
    with pytest.raises(OutcomeUnknownError, match="may or may not have happened"):
        fake.client().create("sourceConnections", {"name": "x"})
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_create_is_retried_when_nothing_was_created(serve: Serve, status: int) -> None:
    answers = iter([ok({}, status), ok({"id": "new", "etag": '"1"'}, 201)])
    fake = serve(lambda req: next(answers))
    assert fake.client().create("flows", {"name": "x"}).id == "new"
    assert len(fake.requests) == 2


def test_dropped_create_is_outcome_unknown_and_dropped_get_retried(serve: Serve) -> None:
    drops = iter([True])
    fake = serve(lambda req: Reply(close=next(drops, False)) if True else ok({}))
    with pytest.raises(OutcomeUnknownError):
        fake.client().create("flows", {"name": "x"})
    assert len(fake.requests) == 1
    again = iter([Reply(close=True), ok({"items": [{"id": "f"}]})])
    fake.route = lambda req: next(again)
    assert fake.client().get("flows", "f").body["id"] == "f"


def test_action_and_put_are_retried_like_a_patch(serve: Serve) -> None:
    answers = iter([ok({}, 500), ok({"id": "f", "etag": '"2"'}), ok({}, 502), ok({"id": "m"})])
    fake = serve(lambda req: next(answers))
    client = fake.client()
    assert client.action("flows", "f", "ENABLE") == '"2"'
    assert client.put("mappingSets", "m", {"version": 0}) == {"id": "m"}
    assert len(fake.requests) == 4


def test_5xx_after_every_retry_is_a_server_error(serve: Serve) -> None:
    fake = serve(lambda req: ok({"title": "boom"}, 503))
    with pytest.raises(ServerError, match="try again later"):
        fake.client().delete("flows", "f")
    assert len(fake.requests) == 3


def test_connections_are_reused_across_threads(serve: Serve) -> None:
    fake = serve(lambda req: ok({"items": [{"id": "a"}]}))
    client = fake.client()
    ports: set[int] = set()
    original = fake.server.RequestHandlerClass.setup

    def setup(handler: object) -> None:
        ports.add(handler.client_address[1])  # type: ignore[attr-defined]
        original(handler)  # type: ignore[arg-type]

    fake.server.RequestHandlerClass.setup = setup  # type: ignore[method-assign]
    threads = [
        threading.Thread(target=lambda: [client.get("flows", "a") for _ in range(20)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.requests) == 80
    assert len(ports) <= 8  # 80 requests over a handful of kept-alive connections


def test_retries_and_renewals_log_no_secret(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret, issued = "CLIENT-SECRET-abcdef123456", ["IMS-TOKEN-one-987654", "IMS-TOKEN-two-123987"]
    ims = iter([ok({}, 503), ok({"access_token": issued[0]}), ok({"access_token": issued[1]})])
    flow = iter([Reply(close=True), ok({"error_code": "401013"}, 401), ok({"items": []})])
    fake = serve(lambda req: next(ims) if req.path.endswith("/ims/token/v3") else next(flow))
    client = fake.client(AEP_ACCESS_TOKEN="", AEP_CLIENT_ID="cid", AEP_CLIENT_SECRET=secret)
    assert client.list("flows") == []
    assert fake.requests[-1].headers["authorization"] == f"Bearer {issued[1]}"
    assert "retrying in" in caplog.text
    for value in (secret, *issued):
        assert value not in caplog.text
