"""The emulator's gateway-level rules: paging bound to its query, sandboxes that exist, request
framing (Content-Length, size), explore and configs, and the CLI's busy-port message."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
from conftest import HUBSPOT_SPEC, ORG, hubspot_params, run
from test_emulator import H, call, create

from flowplan.emulator import Emulator
from flowplan.errors import EmulatorError


def first_page(emu: Emulator, path: str, query: dict[str, Any]) -> str:
    body = call(emu, "GET", path, params=query).json()
    return str(body["_links"]["next"]["href"])


@pytest.mark.parametrize(
    "changed",
    [
        {"limit": 2},  # property dropped: the bug a client that follows the href as is has
        {"limit": 3, "property": "name==same"},
        {"limit": 2, "property": "name==same", "orderby": "name"},
        {"limit": 2, "property": "name==other"},
    ],
)
def test_a_page_asked_with_another_query_is_refused(
    emulator: Emulator, changed: dict[str, Any]
) -> None:
    for _ in range(5):
        emulator.seed(ORG, "prod", name="same", params=hubspot_params())
    query = {"limit": 2, "property": "name==same"}
    href = first_page(emulator, "/connections", query)
    assert href.startswith("/connections?continuationToken=")
    assert "&" not in href
    refused = requests.get(emulator.flow_url + href, headers=H, params=changed, timeout=10)
    assert refused.status_code == 400
    assert "continuationToken" in refused.json()["errorMessage"]
    same = requests.get(emulator.flow_url + href, headers=H, params=query, timeout=10)
    assert same.status_code == 200
    assert [i["name"] for i in same.json()["items"]] == ["same", "same"]


def test_a_token_is_bound_to_its_kind(emulator: Emulator) -> None:
    for _ in range(3):
        create(emulator)
    href = first_page(emulator, "/connections", {"limit": 1})
    token = href.partition("=")[2]
    other = call(
        emulator, "GET", "/sourceConnections", params={"limit": 1, "continuationToken": token}
    )
    assert other.status_code == 400
    garbage = call(emulator, "GET", "/connections", params={"continuationToken": "!!"})
    assert garbage.status_code == 400


def test_unknown_sandbox_is_404(emulator: Emulator) -> None:
    for sandbox in ("prod", "dev", "stage"):
        assert call(emulator, "GET", "/connections", {**H, "x-sandbox-name": sandbox}).ok
    typo = call(emulator, "GET", "/connections", {**H, "x-sandbox-name": "prdo"})
    assert typo.status_code == 404
    body = typo.json()
    assert body["type"].endswith("FLOW-2101-404")
    assert body["errorMessage"] == "The sandbox with the name 'prdo' could not be found."
    posted = call(
        emulator, "POST", "/connections", {**H, "x-sandbox-name": "prdo"}, json={"name": "x"}
    )
    assert posted.status_code == 404


def test_sandboxes_are_configurable() -> None:
    with Emulator(sandboxes=["acme-dev"]) as emu:
        assert call(emu, "GET", "/connections", {**H, "x-sandbox-name": "acme-dev"}).ok
        assert call(emu, "GET", "/connections").status_code == 404  # prod is not one of them


def raw_request(emu: Emulator, head: str, body: bytes = b"") -> bytes:
    host, port = emu.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


HEAD = (
    "POST /data/foundation/flowservice/connections HTTP/1.1\r\nHost: x\r\n"
    "Authorization: Bearer t\r\nx-api-key: k\r\nx-gw-ims-org-id: o\r\nx-sandbox-name: prod\r\n"
    "Content-Type: application/json\r\n"
)


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "5, 5"])
def test_bad_content_length_is_400_without_traceback(
    emulator: Emulator, capfd: pytest.CaptureFixture[str], length: str
) -> None:
    answer = raw_request(emulator, HEAD + f"Content-Length: {length}\r\n", b"{}")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Invalid Content-Length" in answer
    assert "Traceback" not in capfd.readouterr().err
    assert call(emulator, "GET", "/connections").ok  # the server is still serving


def test_oversized_body_is_413() -> None:
    with Emulator(max_body=1024) as emu:
        answer = raw_request(emu, HEAD + "Content-Length: 5000\r\n", b"x" * 100)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert emu.connections("o", "prod") == []
        small = call(emu, "POST", "/connections", json={"name": "x" * 2000})
        assert small.status_code == 413


def test_explore_answers_tables_and_columns(emulator: Emulator) -> None:
    conn = create(emulator)["id"]
    path = f"/connections/{conn}/explore"
    root = call(emulator, "GET", path, params={"objectType": "root"}).json()
    assert isinstance(root, list)
    contacts = next(t for t in root if t["name"] == "Hubspot.Contacts")
    assert contacts["type"] == "table"
    assert contacts["path"] == "Hubspot.Contacts"
    assert call(emulator, "GET", path, params={"objectType": "ROOT"}).json() == root
    table = call(
        emulator, "GET", path, params={"objectType": "table", "object": "Hubspot.Contacts"}
    ).json()
    assert table["format"] == "flat"
    columns = {c["name"]: c for c in table["schema"]["columns"]}
    assert {"email", "lastmodifieddate"} <= set(columns)
    assert columns["email"]["xdm"] == {"type": "string"}
    assert "authSpec" not in str(table)  # not the spec
    missing = call(emulator, "GET", path, params={"objectType": "table", "object": "Nope"})
    assert missing.status_code == 404
    assert call(emulator, "GET", path, params={"objectType": "table"}).status_code == 400
    assert call(emulator, "GET", path, params={"objectType": "file"}).status_code == 400
    configs = call(emulator, "GET", f"/connections/{conn}/configs")
    assert configs.status_code == 400
    assert HUBSPOT_SPEC in configs.json()["errorMessage"]
    assert call(emulator, "GET", "/connections/nope/explore").status_code == 404


def test_busy_port_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmulatorError, match="is in use"):
            Emulator(port=port)
        code, out, err = run(capsys, "emulator", "--port", str(port))
    assert code == 1
    assert err == f"Error: port {port} on 127.0.0.1 is in use; choose another with --port\n"
    assert "Traceback" not in out + err
