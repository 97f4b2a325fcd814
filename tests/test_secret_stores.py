"""Secret stores, read by the real drivers from real local servers.

AWS Secrets Manager and SSM Parameter Store: moto's standalone server (`python -m moto.server`),
started on loopback by this module, spoken to by boto3 over HTTP. Vault: its server cannot be
installed here, so hvac reads from tests/fake_vault.py, a local HTTP server that follows Vault's
documented KV v2 read API. Every test that handles a secret greps what flowplan printed and wrote
for it and finds nothing.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from conftest import ORG, run
from conftest import cli_env as set_cli_env
from fake_vault import FakeVault

from flowplan.emulator import Emulator
from flowplan.references.resolver import Resolver, parse
from flowplan.references.stores import SecretStores

SM_SECRET = "CANARY-sm-client-secret-58d1e0"
SSM_SECRET = "CANARY-ssm-access-token-0c77b2"
VAULT_SECRET = "CANARY-vault-refresh-token-a9e4f3"
VAULT_TOKEN = "CANARY-vault-token-4411"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    for key, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(key, value)
    sm = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")
    ssm = boto3.client("ssm", endpoint_url=moto_url, region_name="us-east-1")
    suffix = str(time.monotonic_ns())
    names = {"sm": f"hubspot/prod-{suffix}", "ssm": f"/flowplan/{suffix}/access-token"}
    sm.create_secret(Name=names["sm"], SecretString=json.dumps({"clientSecret": SM_SECRET, "n": 7}))
    sm.create_secret(Name=names["sm"] + "-plain", SecretString=SM_SECRET + "-plain")
    sm.create_secret(Name=names["sm"] + "-empty", SecretString=json.dumps({"k": ""}))
    ssm.put_parameter(Name=names["ssm"], Value=SSM_SECRET, Type="SecureString")
    return names


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVault]:
    with FakeVault(VAULT_TOKEN) as server:
        server.put("secret", "hubspot/prod", {"refreshToken": VAULT_SECRET, "n": 3})
        monkeypatch.setenv("VAULT_ADDR", server.url)
        monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
        yield server


def resolve(raw: str, base: Path) -> tuple[str, list[str]]:
    import os

    missing: list[str] = []
    value = Resolver(dict(os.environ), base).resolve(parse(raw), missing, secret=True)
    return value, missing


# --- each driver, directly ------------------------------------------------------------------


def test_aws_secrets_manager_whole_and_json_key(aws: dict[str, str], tmp_path: Path) -> None:
    assert resolve(f"${{aws-sm:{aws['sm']}#clientSecret}}", tmp_path) == (SM_SECRET, [])
    assert resolve(f"${{aws-sm:{aws['sm']}-plain}}", tmp_path) == (SM_SECRET + "-plain", [])
    assert resolve(f"${{aws-sm:{aws['sm']}#n}}", tmp_path) == ("7", [])


def test_aws_ssm_secure_string_is_decrypted(aws: dict[str, str], tmp_path: Path) -> None:
    assert resolve(f"${{aws-ssm:{aws['ssm']}}}", tmp_path) == (SSM_SECRET, [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("${aws-sm:absent/secret}", "${aws-sm:absent/secret}: not found"),
        ("${aws-ssm:/absent/param}", "${aws-ssm:/absent/param}: not found"),
        ("${aws-sm:SM#nokey}", "the secret has no key 'nokey'"),
        ("${aws-sm:SM-plain#k}", "is not a JSON object"),
        ("${aws-sm:SM-empty#k}", "${aws-sm:SM-empty#k} is empty; a secret cannot be empty"),
    ],
)
def test_aws_problems_name_the_reference(
    aws: dict[str, str], tmp_path: Path, raw: str, expected: str
) -> None:
    raw = raw.replace("SM", aws["sm"])
    value, missing = resolve(raw, tmp_path)
    assert value == ""
    assert len(missing) == 1
    assert expected.replace("SM", aws["sm"]) in missing[0]
    assert raw in missing[0]
    assert SM_SECRET not in missing[0]


def test_vault_kv2_read(vault: FakeVault, tmp_path: Path) -> None:
    assert resolve("${vault:secret/hubspot/prod#refreshToken}", tmp_path) == (VAULT_SECRET, [])
    assert resolve("${vault:secret/hubspot/prod#n}", tmp_path) == ("3", [])


@pytest.mark.parametrize(
    ("raw", "env", "expected"),
    [
        ("${vault:secret/absent#k}", {}, "not found"),
        ("${vault:secret/hubspot/prod#nokey}", {}, "has no key 'nokey'"),
        ("${vault:secret/hubspot/prod#refreshToken}", {"VAULT_TOKEN": "wrong"}, "permission"),
        ("${vault:secret/hubspot/prod#refreshToken}", {"VAULT_TOKEN": ""}, "VAULT_TOKEN is not"),
        ("${vault:secret/x#k}", {"VAULT_ADDR": "http://vault.example.com:8200"}, "use https"),
    ],
)
def test_vault_problems_name_the_reference(
    vault: FakeVault,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    raw: str,
    env: dict[str, str],
    expected: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    value, missing = resolve(raw, tmp_path)
    assert value == ""
    assert len(missing) == 1
    assert missing[0].startswith(raw + ": ")
    assert expected in missing[0]
    assert VAULT_SECRET not in missing[0]


def test_plain_http_vault_off_loopback_never_gets_the_token(
    vault: FakeVault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault.url.replace("127.0.0.1", "localhost.invalid"))
    _, missing = resolve("${vault:secret/hubspot/prod#refreshToken}", tmp_path)
    assert "use https" in missing[0]
    assert not vault.reads


@pytest.mark.parametrize(("module", "extra"), [("boto3", "aws"), ("hvac", "vault")])
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    raw = "${aws-sm:x}" if extra == "aws" else "${vault:secret/x#k}"
    missing: list[str] = []
    Resolver({}, tmp_path, SecretStores({})).resolve(parse(raw), missing)
    assert missing == [
        f"{raw}: reading it needs the {module} package: pip install 'flowplan[{extra}]'"
    ]


# --- through the CLI, into the request body -----------------------------------------------

MANIFEST = """\
version: 1
sandbox: prod
connections:
  hs-one:
    type: hubspot
    name: HubSpot one
    auth:
      params:
        clientId: ${env:HS_CLIENT_ID}
        clientSecret: ${aws-sm:SMID#clientSecret}
        accessToken: ${aws-ssm:PARAM}
        refreshToken: ${vault:secret/hubspot/prod#refreshToken}
  hs-two:
    type: hubspot
    name: HubSpot two
    auth:
      params:
        clientId: ${env:HS_CLIENT_ID}
        clientSecret: ${aws-sm:SMID#clientSecret}
        accessToken: ${aws-ssm:PARAM}
        refreshToken: ${vault:secret/hubspot/prod#refreshToken}
"""


@pytest.fixture
def cli_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    set_cli_env(emulator, monkeypatch, "TOKEN-canary-stores", {})


def test_every_store_resolves_into_the_request_body_and_nowhere_else(
    aws: dict[str, str],
    vault: FakeVault,
    cli_env: None,
    emulator: Emulator,
    write: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(MANIFEST.replace("SMID", aws["sm"]).replace("PARAM", aws["ssm"]))
    texts: list[str] = []
    for args in (("plan", "--out", str(tmp_path / "saved.plan")), ("apply", "--auto-approve")):
        code, out, err = run(capsys, "--debug", args[0], "-f", str(path), *args[1:])
        assert code == 0, err
        texts += [out, err]
    # each distinct reference is read once per run: two runs, two connections share one
    assert vault.reads["secret/hubspot/prod"] == 2
    stored = [emulator.stored(ORG, "prod", c["id"]) for c in emulator.connections(ORG, "prod")]
    assert len(stored) == 2
    for record in stored:
        params = record["auth"]["params"]
        assert params["clientSecret"] == SM_SECRET
        assert params["accessToken"] == SSM_SECRET
        assert params["refreshToken"] == VAULT_SECRET
    texts += [f.read_text(errors="replace") for f in tmp_path.rglob("*") if f.is_file()]
    everything = "\n".join(texts)
    for secret in (SM_SECRET, SSM_SECRET, VAULT_SECRET, VAULT_TOKEN):
        assert secret not in everything


def test_a_missing_secret_is_reported_by_its_reference(
    aws: dict[str, str],
    vault: FakeVault,
    cli_env: None,
    write: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = MANIFEST.replace("SMID#clientSecret", "absent/secret").replace("PARAM", aws["ssm"])
    code, out, err = run(capsys, "plan", "-f", str(write(text)))
    assert code == 1
    assert "${aws-sm:absent/secret}: not found" in err
    assert "Traceback" not in err
    assert SSM_SECRET not in out + err
    assert VAULT_SECRET not in out + err
