"""`${file:}` safety and empty secrets through the real CLI: `flowplan plan` against the
emulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, hubspot_manifest, run

from flowplan.emulator import Emulator

SECRETS = {
    "HS_CLIENT_SECRET": "CANARY-refs-client-secret-31",
    "HS_ACCESS_TOKEN": "CANARY-refs-access-token-32",
    "HS_REFRESH_TOKEN": "CANARY-refs-refresh-token-33",
}


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = cli_env(emulator, monkeypatch, "TOKEN-canary-refs", SECRETS)
    monkeypatch.delenv("FLOWPLAN_FILE_ROOTS", raising=False)
    return values


def manifest_with_refresh(write: Any, ref: str) -> Path:
    text = hubspot_manifest("A").replace("${env:HS_REFRESH_TOKEN}", ref)
    path: Path = write(text, "repo/flowplan.yaml")
    return path


def plan(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    code, out, err = run(capsys, "plan", "-f", str(path))
    for secret in SECRETS.values():
        assert secret not in out + err
    return code, err


def test_a_file_in_the_tree_is_read(
    env: dict[str, str], write: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = manifest_with_refresh(write, "${file:secrets/refresh}")
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets" / "refresh").write_text("CANARY-file-refresh-77\n")
    code, out, err = run(capsys, "plan", "-f", str(path))
    assert code == 0, err
    assert "CANARY-file-refresh-77" not in out + err


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("../outside", "file ../outside is outside the manifest's folder"),
        ("/etc/hostname", "file /etc/hostname is outside the manifest's folder"),
        ("link", "file link is outside the manifest's folder"),
        ("/proc/self/environ", "file /proc/self/environ is a special file"),
        ("big", "file big is larger than 256 KiB"),
        ("absent", "file absent does not exist"),
    ],
)
def test_file_refusals_name_the_file(
    env: dict[str, str],
    write: Any,
    capsys: pytest.CaptureFixture[str],
    target: str,
    why: str,
) -> None:
    path = manifest_with_refresh(write, f"${{file:{target}}}")
    (path.parent.parent / "outside").write_text("CANARY-outside-88")
    (path.parent / "link").symlink_to(path.parent.parent / "outside")
    (path.parent / "big").write_bytes(b"z" * (300 * 1024))
    code, err = plan(capsys, path)
    assert code == 1
    assert f"connections.a: {why}" in err
    assert "CANARY-outside-88" not in err
    assert "Traceback" not in err


def test_file_roots_allow_a_folder_but_never_special_files(
    env: dict[str, str],
    write: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_secrets = tmp_path / "run-secrets"
    run_secrets.mkdir()
    (run_secrets / "refresh").write_text("CANARY-rooted-refresh-99")
    path = manifest_with_refresh(write, f"${{file:{run_secrets}/refresh}}")
    assert plan(capsys, path)[0] == 1
    monkeypatch.setenv("FLOWPLAN_FILE_ROOTS", f"{run_secrets}:/dev")
    code, err = plan(capsys, path)
    assert code == 0, err
    zero = manifest_with_refresh(write, "${file:/dev/zero}")
    code, err = plan(capsys, zero)
    assert code == 1
    assert "file /dev/zero is a special file" in err


def test_a_fifo_neither_hangs_nor_is_read(env: dict[str, str], write: Any) -> None:
    path = manifest_with_refresh(write, "${file:pipe}")
    os.mkfifo(path.parent / "pipe")
    result = subprocess.run(
        [sys.executable, "-m", "flowplan", "plan", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "connections.a: file pipe is not a regular file" in result.stderr


@pytest.mark.parametrize("how", ["env", "file"])
def test_an_empty_secret_is_an_error_naming_it(
    env: dict[str, str],
    write: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    if how == "env":
        monkeypatch.setenv("HS_REFRESH_TOKEN", "")
        path = manifest_with_refresh(write, "${env:HS_REFRESH_TOKEN}")
        name = "${env:HS_REFRESH_TOKEN}"
    else:
        path = manifest_with_refresh(write, "${file:empty}")
        (path.parent / "empty").write_text("\n")
        name = "${file:empty}"
    code, err = plan(capsys, path)
    assert code == 1
    assert f"connections.a: {name} is empty; a secret cannot be empty" in err
