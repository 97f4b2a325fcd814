"""`flowplan validate` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, hubspot_manifest

from flowplan.cli import main


def test_example_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", str(ROOT / "examples" / "hubspot.yaml")]) == 0
    assert "valid (2 connections)" in capsys.readouterr().out


def test_default_manifest_name(
    write, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(hubspot_manifest("A"))
    monkeypatch.chdir(path.parent)
    assert main(["validate"]) == 0


def test_errors_print_file_line_col(write, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(hubspot_manifest("A").replace("version: 1", "version: 2"))
    assert main(["validate", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:1:10: error: version: must be 1, got 2" in err
    assert "Traceback" not in err


def test_github_annotations(
    write, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    path = write("version: 1\nconnections:\n  a:\n    type: hubspot\n")
    assert main(["validate", "-f", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"::error file={path},line=3,col=3::connections.a: 'name' is required" in out
    assert f"::error file={path},line=3,col=3::connections.a: 'auth' is required" in out


def test_usage_error_exits_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--bogus"]) == 1
    assert main(["nosuchcommand"]) == 1


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "flowplan" in capsys.readouterr().out
    assert main(["validate", "--help"]) == 0


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\t- x",
        b"a: !!python/object/apply:os.system [echo pwned]\n",
        b"\x00\x01\x02",
        b"[" * 10000,
        b"version: 1\nconnections: {a: *x}\n",
    ],
)
def test_installed_script_never_shows_a_traceback(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "flowplan", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}:" in result.stderr
    assert "pwned" not in result.stdout


# --- 1.1: where secrets may go, refused by validate at FILE:LINE:COL --------------------------


@pytest.mark.parametrize(
    ("old", "new", "col", "why"),
    [
        (
            "clientId: ${env:HS_CLIENT_ID}",
            "clientId: ${env:AEP_CLIENT_SECRET}",
            19,
            "${env:AEP_CLIENT_SECRET} is one of flowplan's own credentials",
        ),
        (
            "clientId: ${env:HS_CLIENT_ID}",
            "clientId: id-${env:AEP_ACCESS_TOKEN}",
            19,
            "${env:AEP_ACCESS_TOKEN} is one of flowplan's own credentials",
        ),
        (
            "clientId: ${env:HS_CLIENT_ID}",
            "clientId: ${env:VAULT_TOKEN}",
            19,
            "${env:VAULT_TOKEN} is one of flowplan's own credentials",
        ),
        (
            "clientId: ${env:HS_CLIENT_ID}",
            "clientId: ${env:HS_ACCESS_TOKEN}",
            19,
            "${env:HS_ACCESS_TOKEN} is also used by the secret param "
            "connections.a.auth.params.accessToken",
        ),
        (
            "name: A",
            "name: ${file:./secrets/../token}",
            11,
            "${file:./secrets/../token} is also used by the secret param "
            "connections.a.auth.params.refreshToken",
        ),
        (
            "clientId: ${env:HS_CLIENT_ID}",
            "clientId: ${aws-sm:prod/hubspot#clientId}",
            19,
            "${aws-sm:prod/hubspot#clientId} is a secret-store reference",
        ),
        (
            "clientId: ${env:HS_CLIENT_ID}",
            "clientId: ${vault:secret/hubspot#clientId}",
            19,
            "${vault:secret/hubspot#clientId} is a secret-store reference",
        ),
    ],
)
def test_a_non_secret_field_never_uses_a_secret(
    write, capsys: pytest.CaptureFixture[str], old: str, new: str, col: int, why: str
) -> None:
    text = hubspot_manifest("A").replace(
        "refreshToken: ${env:HS_REFRESH_TOKEN}", "refreshToken: ${file:token}"
    )
    assert old in text
    text = text.replace(old, new)
    path = write(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new in t)
    assert main(["validate", "-f", str(path)]) == 1
    err = capsys.readouterr().err
    field = "connections.a.name" if new.startswith("name") else "connections.a.auth.params.clientId"
    assert f"{path}:{line}:{col}: error: {field}: {why}" in err
    assert "shown in plans and stored in the state" in err


def test_secret_params_may_use_every_store_and_credentials(
    write, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        hubspot_manifest("A")
        .replace("${env:HS_CLIENT_SECRET}", "${aws-sm:prod/hubspot#clientSecret}")
        .replace("${env:HS_ACCESS_TOKEN}", "${aws-ssm:/flowplan/hubspot/token}")
        .replace("${env:HS_REFRESH_TOKEN}", "${vault:secret/hubspot#refreshToken}")
        .replace("name: A", "name: A ${env:HS_CLIENT_ID}")
    )
    assert main(["validate", "-f", str(write(text))]) == 0
