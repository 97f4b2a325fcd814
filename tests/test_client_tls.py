"""TLS: the server's certificate is verified against certifi's CA bundle, whatever the
environment says, and a refused handshake is a network error that names TLS. Each origin
(Flow Service, Data Prep, IMS) has its pool."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest
from test_client_fake import (
    PREP,
    FakeServer,
    Reply,
    Request,
    fake_settings,
    ok,
    serve_fixture,  # noqa: F401
)

from flowplan.errors import NetworkError
from flowplan.flowservice.client import FlowServiceClient

x509 = pytest.importorskip("cryptography.x509")
hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "flowplan-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(name="tls")
def tls_fixture(tmp_path: Path) -> Iterator[tuple[FakeServer, Path]]:
    cert, key = self_signed(tmp_path)
    fake = FakeServer(lambda req: ok({"items": [{"id": "c1"}]}))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake.server.socket = context.wrap_socket(fake.server.socket, server_side=True)
    with fake:
        yield fake, cert


def https_client(fake: FakeServer) -> FlowServiceClient:
    base = fake.base.replace("http://", "https://")
    return FlowServiceClient(fake_settings(base, FLOWPLAN_RETRIES="0"))


def test_an_unknown_certificate_is_refused_even_if_the_environment_trusts_it(
    tls: tuple[FakeServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, cert = tls
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(cert))
    with pytest.raises(NetworkError, match="TLS handshake or session failed"):
        https_client(fake).list("connections")
    assert fake.requests == []


def test_a_certificate_from_certifis_bundle_is_trusted(
    tls: tuple[FakeServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, cert = tls
    monkeypatch.setattr(certifi, "where", lambda: str(cert))
    assert [c["id"] for c in https_client(fake).list("connections")] == ["c1"]
    assert fake.requests[0].headers["user-agent"].startswith("flowplan/")


def test_flow_service_data_prep_and_ims_on_three_origins(
    serve: Callable[[Callable[[Request], Reply]], FakeServer],
) -> None:
    """Each origin keeps its own pool for the whole run (none is closed under another)."""
    answers = iter([ok({"items": [{"id": "c1"}]}), ok({"error_code": "401013"}, 401)])
    flow = serve(lambda req: next(answers, ok({"items": [{"id": "c1"}]})))
    prep = serve(lambda req: ok({"data": [{"id": "m1"}]}))
    tokens = iter(["IMS-TOKEN-first-8c2e71", "IMS-TOKEN-renewed-4b9d03"])
    ims = serve(lambda req: ok({"access_token": next(tokens)}))
    settings = fake_settings(
        flow.base,
        FLOWPLAN_CONVERSION_ENDPOINT=prep.base + PREP,
        FLOWPLAN_IMS_ENDPOINT=ims.base + "/ims/token/v3",
        AEP_ACCESS_TOKEN="",
        AEP_CLIENT_ID="cid",
        AEP_CLIENT_SECRET="CLIENT-SECRET-three-origins-5f1c",  # registered for redaction: unique
    )
    client = FlowServiceClient(settings)
    for _ in range(3):  # the second round's 401 renews the token: IMS is asked again
        assert [m["id"] for m in client.list("mappingSets", service="conversion")] == ["m1"]
        assert [c["id"] for c in client.list("connections")] == ["c1"]
    assert len(ims.requests) == 2
    assert ims.requests[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert flow.requests[-1].headers["authorization"] == "Bearer IMS-TOKEN-renewed-4b9d03"
    assert len(prep.requests) == 3
