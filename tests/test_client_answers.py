"""Only documented success is success; malformed answers are clear errors, never tracebacks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from connections_api import Connections
from test_client_fake import (
    FLOW,
    ORG,
    PREP,
    TOKEN,
    FakeServer,
    Reply,
    Request,
    ok,
    serve_fixture,  # noqa: F401
)

from flowplan.errors import (
    ApiError,
    ConfigError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    UnexpectedAnswerError,
)
from flowplan.flowservice.answers import Answer
from flowplan.flowservice.client import FlowServiceClient
from flowplan.flowservice.settings import Settings

Serve = Callable[[Callable[[Request], Reply]], FakeServer]


def test_a_redirect_is_not_followed_and_is_an_error(serve: Serve) -> None:
    fake = serve(lambda req: ok(None, 302, Location="https://elsewhere.example/login?next=x"))
    with pytest.raises(UnexpectedAnswerError) as info:
        fake.client().delete("flows", "f1")
    message = str(info.value)
    assert "HTTP 302 where the API documents 204" in message
    assert "redirects to https://elsewhere.example/login" in message
    assert "next=x" not in message
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda c: c.get("flows", "f1"), 203),
        (lambda c: c.patch("flows", "f1", '"1"', []), 204),
        (lambda c: c.delete("flows", "f1"), 200),
        (lambda c: c.action("flows", "f1", "ENABLE"), 202),
        (lambda c: c.put("mappingSets", "m1", {}), 201),
    ],
)
def test_an_undocumented_success_status_is_an_error(
    serve: Serve, call: Callable[[FlowServiceClient], Any], status: int
) -> None:
    fake = serve(lambda req: ok({"id": "f1", "etag": '"2"', "items": [{"id": "f1"}]}, status))
    with pytest.raises(UnexpectedAnswerError, match=f"HTTP {status} where the API documents"):
        call(fake.client())


@pytest.mark.parametrize(
    ("reply", "service"),
    [
        (ok({"id": "x", "etag": '"1"'}, 202), "flow"),
        (ok({"id": "x", "etag": '"1"'}, 200), "flow"),
        (ok({"id": "x", "version": 0}, 201), "conversion"),
        (ok(None, 301, Location="/elsewhere"), "flow"),
        (ok({}, 201), "flow"),
        (ok({"id": "x"}, 201), "flow"),
        (ok({"id": 7, "etag": '"1"'}, 201), "flow"),
        (ok([{"id": "x"}], 201), "flow"),
        (ok("<html>created</html>", 201, **{"Content-Type": "text/html"}), "flow"),
        (ok({"id": "x"}, 200), "conversion"),
        (ok({"id": "x", "version": "one"}, 200), "conversion"),
    ],
)
def test_a_create_answered_out_of_contract_is_outcome_unknown(
    serve: Serve, reply: Reply, service: Any
) -> None:
    fake = serve(lambda req: reply)
    collection = "mappingSets" if service == "conversion" else "flows"
    with pytest.raises(OutcomeUnknownError, match="may or may not have happened"):
        fake.client().create(collection, {"name": "x"}, service=service)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (ok("<html>hi</html>", 200, **{"Content-Type": "text/html"}), r"not JSON \(text/html\)"),
        (ok([1, 2]), "a JSON list, not an object"),
        (ok({"items": "nope"}), "`items` in the answer was a JSON string"),
        (ok({"items": [["x"]]}), "an entry of `items` was a JSON list"),
    ],
)
def test_a_malformed_get_is_a_clear_error(serve: Serve, reply: Reply, message: str) -> None:
    fake = serve(lambda req: reply)
    with pytest.raises(UnexpectedAnswerError, match=message):
        fake.client().get("sourceConnections", "s1")
    with pytest.raises(UnexpectedAnswerError, match=message):
        Connections(fake.client()).get("s1")


def test_a_patch_answer_without_etag_is_a_clear_error(serve: Serve) -> None:
    fake = serve(lambda req: ok({"id": "c1"}))
    with pytest.raises(UnexpectedAnswerError, match="without the new etag"):
        Connections(fake.client()).patch("c1", '"1"', [{"op": "replace", "path": "/name"}])
    assert fake.requests[0].headers["if-match"] == '"1"'


def connection(**fields: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "etag": '"1"',
        "name": "one",
        "auth": {"specName": "Basic Authentication", "params": {"clientId": "x"}},
        "connectionSpec": {"id": "ABC", "version": "1.0"},
        **fields,
    }


@pytest.mark.parametrize(
    ("updated_at", "epoch_ms"),
    [
        (1700000000123, 1700000000123),
        ("1700000000123", 1700000000123),
        (1700000000, 1700000000000),
        ("2023-11-14T22:13:20Z", 1700000000000),
        ("2023-11-14T22:13:20.500+00:00", 1700000000500),
        (None, 0),
    ],
)
def test_dates_in_other_formats_are_read(serve: Serve, updated_at: Any, epoch_ms: int) -> None:
    fake = serve(lambda req: ok({"items": [connection(updatedAt=updated_at)]}))
    remote = Connections(fake.client()).get("c1")
    assert remote.updated_at == epoch_ms
    assert remote.attributes["connectionSpec"]["id"] == "abc"
    assert remote.attributes["params"] == {"clientId": "x"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"updatedAt": "last tuesday"}, "updatedAt of connection c1 is not a date"),
        ({"updatedAt": True}, "updatedAt of connection c1 is not a date"),
        ({"updatedAt": [1]}, "updatedAt of connection c1 is not a date"),
        ({"auth": "basic"}, "`auth` of a connection in the answer is not an object"),
        ({"auth": {"params": [1]}}, "`params` of a connection"),
        ({"connectionSpec": "abc"}, "`connectionSpec` of a connection"),
    ],
)
def test_a_malformed_connection_is_a_clear_error(
    serve: Serve, fields: dict[str, Any], message: str
) -> None:
    fake = serve(lambda req: ok({"items": [connection(**fields)]}))
    with pytest.raises(UnexpectedAnswerError, match=message):
        Connections(fake.client()).list()


def test_empty_items_is_not_found(serve: Serve) -> None:
    fake = serve(lambda req: ok({"items": []}))
    with pytest.raises(NotFoundError, match="flows f1 not found"):
        fake.client().get("flows", "f1")
    with pytest.raises(NotFoundError, match="flow spec s1 not found"):
        fake.client().get_flow_spec("s1")


def test_generic_flow_service_calls(serve: Serve) -> None:
    def route(req: Request) -> Reply:
        if req.method == "POST" and req.path.endswith("/action"):
            return ok({"id": "f1", "etag": '"3"'})
        if req.method == "POST":
            return ok({"id": "f1", "etag": '"1"'}, 201, Location=f"{FLOW}/flows/f1")
        if req.method == "PATCH":
            return ok({"id": "f1", "etag": '"2"'})
        if req.method == "DELETE":
            return ok(None, 204)
        if req.path.endswith("/flowSpecs/s1"):
            return ok({"items": [{"id": "s1", "name": "CRMToAEP"}]})
        return ok({"items": [{"id": "f1", "etag": '"2"', "name": "flow"}]})

    fake = serve(route)
    client = fake.client()
    created = client.create("flows", {"name": "flow"})
    assert (created.id, created.etag, created.body["id"]) == ("f1", '"1"', "f1")
    assert client.patch("flows", "f1", created.etag or "", [{"op": "replace"}]) == '"2"'
    fetched = client.get("flows", "f1")
    assert (fetched.body["name"], fetched.etag) == ("flow", '"2"')
    assert client.action("flows", "f1", "DISABLE") == '"3"'
    assert client.get_flow_spec("s1")["name"] == "CRMToAEP"
    client.delete("flows", "f1")
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", f"{FLOW}/flows"),
        ("PATCH", f"{FLOW}/flows/f1"),
        ("GET", f"{FLOW}/flows/f1"),
        ("POST", f"{FLOW}/flows/f1/action"),
        ("GET", f"{FLOW}/flowSpecs/s1"),
        ("DELETE", f"{FLOW}/flows/f1"),
    ]
    assert fake.requests[3].query == [("op", "DISABLE")]
    assert fake.requests[1].headers["if-match"] == '"1"'
    assert client.request_count == 6


def test_data_prep_calls_and_headers(serve: Serve) -> None:
    mapping = {"id": "m1", "version": 0, "xdmSchema": "s", "mappings": []}

    def route(req: Request) -> Reply:
        if req.method == "POST":
            return ok({"id": "m1", "version": 0, "createdDate": 1})
        if req.method == "PUT":
            return ok({**mapping, "version": 1})
        if dict(req.query).get("version") == "0":
            return ok(mapping)
        return ok({"data": [mapping], "_page": {"count": 1}})

    fake = serve(route)
    client = fake.client()
    created = client.create("mappingSets", {"version": 0}, service="conversion")
    assert (created.id, created.etag, created.body["version"]) == ("m1", None, 0)
    got = client.get("mappingSets", "m1", service="conversion", params=[("version", "0")])
    assert (got.body, got.etag) == (mapping, None)
    assert client.put("mappingSets", "m1", {"version": 1})["version"] == 1
    assert client.list("mappingSets", service="conversion") == [mapping]
    assert {r.path for r in fake.requests} == {f"{PREP}/mappingSets", f"{PREP}/mappingSets/m1"}
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-api-key"] == "api-key"
        assert request.headers["x-gw-ims-org-id"] == ORG
        assert request.headers["x-sandbox-name"] == "prod"
        assert "if-match" not in request.headers
    put = next(r for r in fake.requests if r.method == "PUT")
    assert put.json() == {"version": 1}
    assert put.headers["content-type"] == "application/json"


def test_conversion_endpoint_setting() -> None:
    env = {"AEP_ACCESS_TOKEN": "t", "AEP_API_KEY": "k", "AEP_ORG_ID": "o", "AEP_SANDBOX_NAME": "s"}
    default = Settings.from_env(env)
    assert default.conversion_endpoint == "https://platform.adobe.io/data/foundation/conversion"
    local = Settings.from_env(
        {**env, "FLOWPLAN_ENDPOINT": "http://127.0.0.1:9/data/foundation/flowservice/"}
    )
    assert local.conversion_endpoint == "http://127.0.0.1:9/data/foundation/conversion"
    chosen = Settings.from_env({**env, "FLOWPLAN_CONVERSION_ENDPOINT": "https://prep.example/c/"})
    assert chosen.conversion_endpoint == "https://prep.example/c"
    with pytest.raises(
        ConfigError, match=r"FLOWPLAN_CONVERSION_ENDPOINT.*only allowed on loopback"
    ):
        Settings.from_env({**env, "FLOWPLAN_CONVERSION_ENDPOINT": "http://prep.example/c"})


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[]", b'"x"', b"{", b'{"items": null}', b'{"items": [null]}', b'{"_links": 1}'],
)
def test_no_answer_shape_makes_a_traceback(serve: Serve, body: bytes) -> None:
    """Whatever a 2xx carries, every call ends in a result or an ApiError, never another error."""
    fake = serve(
        lambda req: ok(
            body, 201 if req.method == "POST" else 204 if req.method == "DELETE" else 200
        )
    )
    client = fake.client()
    calls: list[Callable[[], object]] = [
        lambda: client.list("connections"),
        lambda: client.list("mappingSets", service="conversion"),
        lambda: client.get("flows", "f"),
        lambda: client.get("mappingSets", "m", service="conversion"),
        lambda: client.create("flows", {}),
        lambda: client.patch("flows", "f", '"1"', []),
        lambda: client.put("mappingSets", "m", {}),
        lambda: client.action("flows", "f", "ENABLE"),
        lambda: Connections(client).list(),
        lambda: client.get_connection_spec("s"),
    ]
    for call in calls:
        with contextlib.suppress(ApiError):
            call()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"name": "caf\u00e9"}'.encode()),
        ("application/json; charset=ISO-8859-1", '{"name": "caf\u00e9"}'.encode("latin-1")),
        ('application/json; charset="utf-8"', '{"name": "caf\u00e9"}'.encode()),
        ("application/json; charset=no-such-codec", '{"name": "caf\u00e9"}'.encode()),
        ("application/json; charset=hex", '{"name": "caf\u00e9"}'.encode()),  # not a text one
        ("application/json; charset=zlib", '{"name": "caf\u00e9"}'.encode()),
    ],
)
def test_an_answer_is_decoded_as_its_charset_says(content_type: str, body: bytes) -> None:
    assert Answer(200, {"Content-Type": content_type}, body).json() == {"name": "caf\u00e9"}


def test_an_answer_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        Answer(502, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>").json()


MIB = 1024 * 1024


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowplan.flowservice import http

    monkeypatch.setattr(http, "MAX_ANSWER_BYTES", MIB)


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


@pytest.mark.usefixtures("small_cap")
@pytest.mark.parametrize(
    "reply",
    [
        ok(b"x" * (2 * MIB)),  # its Content-Length says so
        Reply(  # no length: read until the connection ends
            raw=b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            + b" " * (2 * MIB)
        ),
        ok(_gzip(b" " * (8 * MIB)), **{"Content-Encoding": "gzip"}),  # small on the wire
    ],
)
def test_an_answer_longer_than_the_cap_is_an_error_and_not_retried(
    serve: Serve, reply: Reply
) -> None:
    fake = serve(lambda req: reply)
    with pytest.raises(NetworkError, match="the answer is longer than 1 MiB"):
        fake.client().get("flows", "f1")
    assert len(fake.requests) == 1


@pytest.mark.usefixtures("small_cap")
def test_a_create_with_an_answer_longer_than_the_cap_is_outcome_unknown(serve: Serve) -> None:
    fake = serve(lambda req: ok(b"x" * (2 * MIB), 201))
    with pytest.raises(OutcomeUnknownError, match="longer than 1 MiB"):
        fake.client().create("flows", {"name": "f"})
    assert len(fake.requests) == 1


@pytest.mark.usefixtures("small_cap")
def test_an_answer_within_the_cap_is_read_whole(serve: Serve) -> None:
    body = {"items": [{"id": "f1", "name": "n" * (MIB - 100)}]}
    fake = serve(lambda req: ok(body))
    fetched = fake.client().get("flows", "f1")
    assert fetched.body["name"] == "n" * (MIB - 100)


@pytest.mark.usefixtures("small_cap")
def test_the_client_goes_on_after_an_answer_longer_than_the_cap(serve: Serve) -> None:
    answers = iter([ok(b"x" * (2 * MIB)), ok({"items": [{"id": "f1", "name": "n"}]})])
    fake = serve(lambda req: next(answers))
    client = fake.client()
    with pytest.raises(NetworkError):
        client.get("flows", "f1")
    assert client.get("flows", "f1").body["name"] == "n"


def test_a_length_that_is_not_ascii_digits_is_ignored_not_a_send_error(serve: Serve) -> None:
    """'²'.isdigit() is true; http.client ignores such a Content-Length and reads to the end."""
    body = b'{"id": "c1", "etag": "\\"1\\""}'
    raw = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: \xb2\r\n"
        b"Connection: close\r\n\r\n" + body
    )
    fake = serve(lambda req: Reply(raw=raw))
    assert fake.client().create("flows", {"name": "f"}).id == "c1"
